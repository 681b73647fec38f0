using Amazon.Runtime;

namespace Bus.Aws.Http;

/// <summary>Where and how Bus.Aws reaches an AWS service: region, credentials, endpoint override, HTTP handler.</summary>
public class AwsClientOptions
{
    /// <summary>The AWS region (e.g. eu-west-1). Required unless <c>AWS_REGION</c> or <c>AWS_DEFAULT_REGION</c> is set.</summary>
    public string? Region { get; set; }

    /// <summary>Credentials; null for the AWSSDK.Core default chain (environment, web identity, profile, container and
    /// instance metadata), as the SQS transport uses.</summary>
    public AWSCredentials? Credentials { get; set; }

    /// <summary>An endpoint override (e.g. a local emulator); null for the service's regional endpoint.</summary>
    public Uri? ServiceUrl { get; set; }

    /// <summary>The HTTP handler requests go through; null for a pooled <see cref="SocketsHttpHandler"/>.</summary>
    public HttpMessageHandler? HttpHandler { get; set; }

    /// <summary>Retries of throttled, 5xx and network failures after the first attempt (default 2).</summary>
    public int MaxErrorRetry { get; set; } = 2;

    /// <summary>Time allowed for one request (default 30 seconds).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The region to sign for.</summary>
    /// <exception cref="BusConfigurationException">None is configured.</exception>
    internal string ResolveRegion() =>
        Region
        ?? Environment.GetEnvironmentVariable("AWS_REGION")
        ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION")
        ?? throw new BusConfigurationException($"{GetType().Name}.Region is not set: set it (e.g. \"eu-west-1\") or the AWS_REGION environment variable.");

    /// <summary>Checks the settings; the message says what to change.</summary>
    internal void Validate()
    {
        if (MaxErrorRetry is < 0 or > 10)
        {
            throw new BusConfigurationException($"{GetType().Name}.MaxErrorRetry is {MaxErrorRetry}: use 0 to 10.");
        }

        if (RequestTimeout <= TimeSpan.Zero)
        {
            throw new BusConfigurationException($"{GetType().Name}.RequestTimeout must be positive (was {RequestTimeout}).");
        }
    }
}

/// <summary>An AWS service answered a Bus.Aws request with an error.</summary>
public sealed class AwsServiceException : Exception
{
    internal AwsServiceException(string service, string operation, string errorCode, string message, int? statusCode, Exception? inner = null)
        : base($"{service} {operation} failed: {errorCode}: {message}", inner)
    {
        Service = service;
        Operation = operation;
        ErrorCode = errorCode;
        StatusCode = statusCode;
    }

    /// <summary>The service (ecs, events, sqs).</summary>
    public string Service { get; }

    /// <summary>The operation (e.g. RunTask).</summary>
    public string Operation { get; }

    /// <summary>The service's error code (e.g. ResourceNotFoundException), or NetworkError / RequestTimeout.</summary>
    public string ErrorCode { get; }

    /// <summary>The HTTP status, when there was a response.</summary>
    public int? StatusCode { get; }
}

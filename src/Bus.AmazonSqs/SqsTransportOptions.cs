using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;

namespace Bus.AmazonSqs;

/// <summary>Whether <see cref="SqsTransport"/> creates missing queues, topics and subscriptions or only checks them.</summary>
public enum ProvisioningMode
{
    /// <summary>Create queues, dead-letter queues, topics, subscriptions and queue policies that are missing (default).</summary>
    CreateIfMissing,

    /// <summary>Create nothing; fail at start-up naming everything that is missing (for accounts where the application
    /// may not create infrastructure).</summary>
    VerifyOnly,
}

/// <summary>Settings of the Amazon SQS + SNS transport.</summary>
public sealed class SqsTransportOptions
{
    /// <summary>The AWS region, e.g. "eu-west-1". Defaults to the AWS_REGION or AWS_DEFAULT_REGION environment
    /// variable, then to "us-east-1" when <see cref="ServiceUrl"/> points at an emulator.</summary>
    public string? Region { get; set; }

    /// <summary>SQS endpoint override (e.g. an emulator such as fauxqs at http://127.0.0.1:4566). Requests always go
    /// to this endpoint, never to the host inside a queue URL. Null: https://sqs.{region}.amazonaws.com/.</summary>
    public Uri? ServiceUrl { get; set; }

    /// <summary>SNS endpoint override. Defaults to <see cref="ServiceUrl"/> when that is set, else
    /// https://sns.{region}.amazonaws.com/.</summary>
    public Uri? SnsServiceUrl { get; set; }

    /// <summary>An explicit access key id (with <see cref="SecretAccessKey"/>). Null: the AWS default credential chain.</summary>
    public string? AccessKeyId { get; set; }

    /// <summary>The secret access key that goes with <see cref="AccessKeyId"/>.</summary>
    public string? SecretAccessKey { get; set; }

    /// <summary>The session token of temporary credentials, with <see cref="AccessKeyId"/>.</summary>
    public string? SessionToken { get; set; }

    /// <summary>Credentials from AWSSDK.Core (e.g. an assume-role provider). Takes precedence over the explicit keys.</summary>
    public AWSCredentials? Credentials { get; set; }

    /// <summary>Prefix of every queue and topic name, e.g. "prod-". Default none.</summary>
    public string QueueNamePrefix { get; set; } = string.Empty;

    /// <summary>Create missing entities, or only verify that they exist. Default <see cref="ProvisioningMode.CreateIfMissing"/>.</summary>
    public ProvisioningMode ProvisioningMode { get; set; } = ProvisioningMode.CreateIfMissing;

    /// <summary>Long-poll wait of one receive, 0 to 20 seconds (whole seconds). Default 20 seconds.</summary>
    public TimeSpan WaitTime { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>maxReceiveCount of each queue's RedrivePolicy, 1 to 1000. Default 10. This is a native safety net for
    /// messages whose handler crashes the process; the bus's own retry policy normally dead-letters (with failure
    /// details) well before it.</summary>
    public int MaxReceiveCount { get; set; } = 10;

    /// <summary>Retries of a throttled (RequestThrottled, HTTP 429), failed (5xx) or timed-out request, with exponential
    /// back-off and jitter, 0 to 20. Default 4.</summary>
    public int RequestRetries { get; set; } = 4;

    /// <summary>Time allowed for one request, on top of the long-poll wait. 1 second to 5 minutes, default 30 seconds.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The largest message (body plus headers) the transport sends, 1,024 to 1,048,576 bytes. Default
    /// 1,048,576 (the SQS maximum). Each queue's own MaximumMessageSize is read and enforced too; topics are limited to
    /// 262,144 bytes by SNS.</summary>
    public long MaxMessageSize { get; set; } = 1024 * 1024;

    /// <summary>How long settlements and lease renewals wait to be coalesced into one batch call per queue (at most 10
    /// entries), 0 to 1 second. Default 10 milliseconds.</summary>
    public TimeSpan BatchWindow { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Redrive all dead letters with SQS's StartMessageMoveTask instead of moving them one by one. Off by
    /// default: only live SQS has it, it runs asynchronously (the count returned is what the dead-letter queue held)
    /// and it needs sqs:StartMessageMoveTask permission. Where the service answers that it does not have the operation
    /// (emulators such as fauxqs), the redrive falls back to the mover and logs a warning. Messages moved natively keep
    /// their failure headers; the receive side drops them (and the attempts counted before), as the mover does.
    /// Redrive of selected ids always uses the mover.</summary>
    public bool UseMessageMoveTask { get; set; }

    /// <summary>The HttpClient to use (its Timeout must exceed <see cref="WaitTime"/>). Null: one is created.</summary>
    public HttpClient? HttpClient { get; set; }

    /// <summary>A handler for the HttpClient the transport creates (tests, proxies). Ignored when <see cref="HttpClient"/> is set.</summary>
    public HttpMessageHandler? HttpMessageHandler { get; set; }

    /// <summary>The first back-off between retries; doubled per retry.</summary>
    internal TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Throws an exception naming the first invalid setting.</summary>
    public void Validate()
    {
        if (ResolveRegion() is not { } region || region.Length == 0)
        {
            throw new ArgumentException("SqsTransportOptions.Region is required: set it, or the AWS_REGION environment variable.", nameof(Region));
        }

        if (!region.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
        {
            throw new ArgumentException($"SqsTransportOptions.Region '{region}' is not a region name like 'eu-west-1'.", nameof(Region));
        }

        CheckUrl(ServiceUrl, nameof(ServiceUrl));
        CheckUrl(SnsServiceUrl, nameof(SnsServiceUrl));
        if (Credentials is null && (AccessKeyId is null) != (SecretAccessKey is null))
        {
            throw new ArgumentException("SqsTransportOptions.AccessKeyId and SecretAccessKey must be set together (or neither, for the default credential chain).", nameof(AccessKeyId));
        }

        if (Credentials is null && SessionToken is not null && AccessKeyId is null)
        {
            throw new ArgumentException("SqsTransportOptions.SessionToken needs AccessKeyId and SecretAccessKey.", nameof(SessionToken));
        }

        ArgumentNullException.ThrowIfNull(QueueNamePrefix, nameof(QueueNamePrefix));
        if (QueueNamePrefix.Length > 40 || !QueueNamePrefix.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw new ArgumentException($"SqsTransportOptions.QueueNamePrefix '{QueueNamePrefix}' may hold at most 40 letters, digits, '-' and '_'.", nameof(QueueNamePrefix));
        }

        if (!Enum.IsDefined(ProvisioningMode))
        {
            throw new ArgumentOutOfRangeException(nameof(ProvisioningMode), ProvisioningMode, "Unknown ProvisioningMode.");
        }

        if (WaitTime < TimeSpan.Zero || WaitTime > TimeSpan.FromSeconds(20) || WaitTime.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(WaitTime), WaitTime, "SqsTransportOptions.WaitTime must be whole seconds from 0 to 20 (the SQS long-poll range).");
        }

        if (MaxReceiveCount is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxReceiveCount), MaxReceiveCount, "SqsTransportOptions.MaxReceiveCount must be from 1 to 1000.");
        }

        if (RequestRetries is < 0 or > 20)
        {
            throw new ArgumentOutOfRangeException(nameof(RequestRetries), RequestRetries, "SqsTransportOptions.RequestRetries must be from 0 to 20.");
        }

        if (RequestTimeout < TimeSpan.FromSeconds(1) || RequestTimeout > TimeSpan.FromMinutes(5))
        {
            throw new ArgumentOutOfRangeException(nameof(RequestTimeout), RequestTimeout, "SqsTransportOptions.RequestTimeout must be from 1 second to 5 minutes.");
        }

        if (MaxMessageSize is < 1024 or > 1024 * 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxMessageSize), MaxMessageSize, "SqsTransportOptions.MaxMessageSize must be from 1,024 to 1,048,576 bytes (the SQS range).");
        }

        if (BatchWindow < TimeSpan.Zero || BatchWindow > TimeSpan.FromSeconds(1))
        {
            throw new ArgumentOutOfRangeException(nameof(BatchWindow), BatchWindow, "SqsTransportOptions.BatchWindow must be from 0 to 1 second.");
        }

        if (HttpClient is { } client && client.Timeout != Timeout.InfiniteTimeSpan && client.Timeout <= WaitTime + TimeSpan.FromSeconds(5))
        {
            throw new ArgumentException($"SqsTransportOptions.HttpClient.Timeout ({client.Timeout}) must exceed WaitTime ({WaitTime}) by more than 5 seconds, or long polls would time out.", nameof(HttpClient));
        }
    }

    /// <summary>The region: <see cref="Region"/>, else AWS_REGION / AWS_DEFAULT_REGION, else the region of the AWS
    /// profile (AWS_PROFILE or "default") in the shared config files, read by AWSSDK.Core; else us-east-1 when
    /// <see cref="ServiceUrl"/> points at an emulator. Instance metadata is not asked (set AWS_REGION on EC2).</summary>
    internal string? ResolveRegion(ICredentialProfileSource? profiles = null) =>
        Region
        ?? Environment.GetEnvironmentVariable("AWS_REGION")
        ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION")
        ?? ProfileRegion(profiles ?? new CredentialProfileStoreChain())
        ?? (ServiceUrl is not null ? "us-east-1" : null);

    private static string? ProfileRegion(ICredentialProfileSource profiles)
    {
        try
        {
            return new ProfileAWSRegion(profiles).Region?.SystemName;
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null; // no profile, or one without a region
        }
    }

    internal Uri SqsEndpoint(string region) => ServiceUrl ?? new Uri($"https://sqs.{region}.amazonaws.com/");

    internal Uri SnsEndpoint(string region) => SnsServiceUrl ?? ServiceUrl ?? new Uri($"https://sns.{region}.amazonaws.com/");

    private static void CheckUrl(Uri? url, string name)
    {
        if (url is not null && (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)))
        {
            throw new ArgumentException($"SqsTransportOptions.{name} '{url}' must be an absolute http or https URL.", name);
        }
    }
}

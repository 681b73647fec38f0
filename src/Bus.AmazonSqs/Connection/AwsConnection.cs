using Amazon;
using Amazon.Extensions.NETCore.Setup;
using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;
using Amazon.SQS;
using Bus.AmazonSqs.Http;
using Bus.Aws.Signing;
using Bus.AmazonSqs.Sns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bus.AmazonSqs.Connection;

/// <summary>
/// The two service clients of the transport and where they came from: the SQS client (given in the options, found in
/// dependency injection, or built from the options) and the SNS Query client, signed with the same AWSSDK.Core
/// credentials and sent through the same <see cref="HttpClientFactory"/>. Disposes only what it built.
/// </summary>
internal sealed class AwsConnection : IDisposable
{
    private readonly bool _ownsSqs;
    private readonly HttpClient _snsHttp;

    private AwsConnection(IAmazonSQS sqs, bool ownsSqs, ISnsClient sns, HttpClient snsHttp)
    {
        Sqs = sqs;
        _ownsSqs = ownsSqs;
        Sns = sns;
        _snsHttp = snsHttp;
    }

    public IAmazonSQS Sqs { get; }

    public ISnsClient Sns { get; }

    /// <summary>Resolves or builds the clients. <paramref name="services"/> is asked for an <see cref="IAmazonSQS"/> and
    /// for <see cref="AWSOptions"/> (credentials and region) when the options give none.</summary>
    public static AwsConnection Create(SqsTransportOptions options, IServiceProvider? services, TimeProvider time, ILogger logger)
    {
        var awsOptions = services?.GetService<AWSOptions>();
        var given = options.SqsClient ?? services?.GetService<IAmazonSQS>();
        var region = options.ResolveRegion()
            ?? given?.Config.RegionEndpoint?.SystemName
            ?? given?.Config.AuthenticationRegion
            ?? awsOptions?.Region?.SystemName
            ?? throw SqsTransportOptions.MissingRegion();
        var credentials = Credentials(options, awsOptions);
        var sqs = given ?? (credentials is null ? new AmazonSQSClient(SqsConfig(options, region)) : new AmazonSQSClient(credentials, SqsConfig(options, region)));

        var snsEndpoint = options.SnsServiceUrl ?? options.ServiceUrl ?? LocalEndpoint(given) ?? new Uri($"https://sns.{region}.amazonaws.com/");
        var http = options.HttpClientFactory?.CreateHttpClient(sqs.Config)
            ?? new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) });
        http.Timeout = Timeout.InfiniteTimeSpan; // each request carries its own timeout
        var retry = new RetrySettings(options.MaxErrorRetry ?? 2, options.RetryBaseDelay, TimeSpan.FromSeconds(5), options.RequestTimeout);
        // Without explicit credentials SNS resolves the SDK's default chain on its first request, as the SQS client does.
        var channel = new AwsHttpChannel("sns", snsEndpoint, region, new SdkCredentialSource(credentials), http, retry, time, logger);
        return new AwsConnection(sqs, ownsSqs: given is null, new SnsQueryClient(channel), http);
    }

    public void Dispose()
    {
        if (_ownsSqs)
        {
            Sqs.Dispose();
        }

        _snsHttp.Dispose();
    }

    /// <summary>The options' credentials, else the profile's, else those of the <see cref="AWSOptions"/> in DI; null
    /// for the SDK's default chain (resolved when first needed).</summary>
    private static AWSCredentials? Credentials(SqsTransportOptions options, AWSOptions? awsOptions)
    {
        if (options.Credentials is { } explicitCredentials)
        {
            return explicitCredentials;
        }

        if (options.AccessKeyId is { } key)
        {
            return options.SessionToken is { } token
                ? new SessionAWSCredentials(key, options.SecretAccessKey!, token)
                : new BasicAWSCredentials(key, options.SecretAccessKey!);
        }

        if (options.Profile is { } profile)
        {
            return new CredentialProfileStoreChain().TryGetAWSCredentials(profile, out var fromProfile)
                ? fromProfile
                : throw new ArgumentException($"SqsTransportOptions.Profile '{profile}' was not found in the shared AWS config or credentials files, or has no credentials.", nameof(options));
        }

        return awsOptions?.Credentials;
    }

    private static AmazonSQSConfig SqsConfig(SqsTransportOptions options, string region)
    {
        var config = new AmazonSQSConfig
        {
            // The long poll holds a request for WaitTime; RequestTimeout is on top of it.
            Timeout = options.WaitTime + options.RequestTimeout,
        };
        if (options.ServiceUrl is { } url)
        {
            config.ServiceURL = url.ToString();
            config.AuthenticationRegion = region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
        }

        if (options.RetryMode is { } mode)
        {
            config.RetryMode = mode;
        }

        if (options.MaxErrorRetry is { } retries)
        {
            config.MaxErrorRetry = retries;
        }

        if (options.HttpClientFactory is { } factory)
        {
            config.HttpClientFactory = factory;
        }

        return config;
    }

    /// <summary>The endpoint of a given SQS client that points somewhere other than AWS (a local peer): SNS goes there
    /// too.</summary>
    private static Uri? LocalEndpoint(IAmazonSQS? client) =>
        client?.Config.ServiceURL is { Length: > 0 } url && Uri.TryCreate(url, UriKind.Absolute, out var uri)
            && !uri.Host.EndsWith(".amazonaws.com", StringComparison.OrdinalIgnoreCase)
            ? uri
            : null;
}

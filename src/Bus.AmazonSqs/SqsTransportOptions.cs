using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;
using Amazon.SQS;

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

    /// <summary>Credentials from AWSSDK.Core (e.g. an assume-role provider). Takes precedence over the explicit keys.
    /// Null (and no keys): the SDK's default credential chain (environment, SSO and profiles, web identity, ECS task
    /// role, EC2 instance metadata), or the credentials of the <c>AWSOptions</c> registered in dependency injection
    /// (<c>AddDefaultAWSOptions</c>). The SNS client is signed with the same credentials as the SQS client.</summary>
    public AWSCredentials? Credentials { get; set; }

    /// <summary>The name of a profile in the shared AWS config and credentials files, for the credentials and region
    /// when neither is given explicitly. Null: AWS_PROFILE, else "default".</summary>
    public string? Profile { get; set; }

    /// <summary>The SQS client to use, e.g. one built by your own code. Null: an <see cref="IAmazonSQS"/> registered in
    /// dependency injection (<c>services.AddAWSService&lt;IAmazonSQS&gt;()</c>) when there is one, else a client built
    /// from these options. A client given here or found in DI is used as it is: its region, endpoint, credentials and
    /// retry settings are its own, and the transport does not dispose it.</summary>
    public IAmazonSQS? SqsClient { get; set; }

    /// <summary>The SDK's retry mode (<see cref="RequestRetryMode.Standard"/> or <see cref="RequestRetryMode.Adaptive"/>,
    /// which also rate-limits the client when it is throttled). Null: the SDK's default (the AWS_RETRY_MODE environment
    /// variable or the profile's retry_mode, else Standard). Also used by the SNS client's own retries.</summary>
    public RequestRetryMode? RetryMode { get; set; }

    /// <summary>Retries of a throttled, failed (5xx) or timed-out request, 0 to 20. Null: the SDK's default for the retry
    /// mode (2 in Standard mode, 3 attempts in all). The SNS client retries as often.</summary>
    public int? MaxErrorRetry { get; set; }

    /// <summary>The SDK's HTTP client factory hook (<see cref="Amazon.Runtime.HttpClientFactory"/>), for proxies,
    /// handlers and request counting. Used for the SQS client the transport builds and for the SNS client. Null: the
    /// SDK's own.</summary>
    public HttpClientFactory? HttpClientFactory { get; set; }

    /// <summary>Prefix of every queue and topic name, e.g. "prod-". Default none.</summary>
    public string QueueNamePrefix { get; set; } = string.Empty;

    /// <summary>Create missing entities, or only verify that they exist. Default <see cref="ProvisioningMode.CreateIfMissing"/>.</summary>
    public ProvisioningMode ProvisioningMode { get; set; } = ProvisioningMode.CreateIfMissing;

    /// <summary>Long-poll wait of one receive, 0 to 20 seconds (whole seconds). Default 20 seconds.</summary>
    public TimeSpan WaitTime { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>maxReceiveCount of each queue's RedrivePolicy, 1 to 1000: after this many receives without being
    /// settled, SQS itself moves a message to the dead-letter queue. This is a crash net for messages whose handler
    /// kills or stalls its process; the bus's own retries dead-letter (with the failure reason) well before it, so it must
    /// exceed the bus's <c>Retry.MaxAttempts</c> (checked at start-up). Every kill of a worker adds a receive to each
    /// message it held, prefetched ones included, hence the headroom. Null (default): one more than the bus's own cap
    /// (<c>Retry.MaxReceiveCount</c>, by default <c>Retry.MaxAttempts</c> + 20, so 26 with the default retry policy), so
    /// that the bus dead-letters a crash-looping message with its reason first. Dead letters SQS moved are reported by
    /// the dead-letter API as "Moved by SQS after N receives".</summary>
    public int? MaxReceiveCount { get; set; }

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

    /// <summary>
    /// Give every endpoint queue a priority queue, <c>{queue}-priority</c> (created and verified with the queue, with the
    /// same dead-letter queue and RedrivePolicy). Messages with a <see cref="DeliveryOptions.Priority"/> above 0 are sent
    /// to it (events with a priority go straight to each subscribed queue's priority queue, not through SNS); receivers
    /// take from it first, in <see cref="PriorityRatio"/>. Default true. Every endpoint that sends to another must agree
    /// on it. It costs one short poll of the priority queue per receive. False: no priority queue, and the transport
    /// declares <see cref="Transports.PriorityOrdering.None"/> (strict start-up then refuses priorities).
    /// </summary>
    public bool PriorityQueue { get; set; } = true;

    /// <summary>At most this many priority messages are received in a row while the normal queue has messages; then the
    /// normal queue gets a receive (<see cref="Transports.PriorityDrain"/>). 1 to 100, default 4.</summary>
    public int PriorityRatio { get; set; } = Transports.PriorityDrain.DefaultRatio;

    /// <summary>The first back-off between retries of the SNS client; doubled per retry.</summary>
    internal TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Throws an exception naming the first invalid setting. A region is required unless
    /// <see cref="SqsClient"/> is set.</summary>
    public void Validate() => Validate(requireRegion: SqsClient is null);

    /// <summary>Validates; <paramref name="requireRegion"/> is false where an SQS client may still come from
    /// dependency injection (the region is then checked when the transport is built).</summary>
    internal void Validate(bool requireRegion)
    {
        if (ResolveRegion() is { } region)
        {
            if (region.Length == 0 || !region.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
            {
                throw new ArgumentException($"SqsTransportOptions.Region '{region}' is not a region name like 'eu-west-1'.", nameof(Region));
            }
        }
        else if (requireRegion)
        {
            throw MissingRegion();
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

        Transports.PriorityDrain.Validate(PriorityRatio, "SqsTransportOptions.PriorityRatio");

        if (MaxReceiveCount is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxReceiveCount), MaxReceiveCount, "SqsTransportOptions.MaxReceiveCount must be from 1 to 1000, or null for one more than the bus's Retry.MaxReceiveCount.");
        }

        if (MaxErrorRetry is < 0 or > 20)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxErrorRetry), MaxErrorRetry, "SqsTransportOptions.MaxErrorRetry must be from 0 to 20, or null for the SDK's default.");
        }

        if (RetryMode is { } mode && !Enum.IsDefined(mode))
        {
            throw new ArgumentOutOfRangeException(nameof(RetryMode), mode, "SqsTransportOptions.RetryMode must be Standard or Adaptive, or null for the SDK's default.");
        }

        if (Profile is { } profile && (profile.Length == 0 || profile.Any(char.IsWhiteSpace)))
        {
            throw new ArgumentException($"SqsTransportOptions.Profile '{profile}' must be a profile name without white space, or null.", nameof(Profile));
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
    }

    /// <summary>The RedrivePolicy's maxReceiveCount: the one set, else one more than <paramref name="busReceiveCap"/>
    /// (the bus's own cap; <paramref name="maxAttempts"/> + 20, or 25, when not known). Throws when the one set does not
    /// exceed a known <paramref name="maxAttempts"/> (a transport built by hand, outside a bus, is not checked).</summary>
    internal int EffectiveMaxReceiveCount(int? maxAttempts, int? busReceiveCap = null)
    {
        if (MaxReceiveCount is not { } set)
        {
            return Math.Min(1000, (busReceiveCap ?? ((maxAttempts ?? 5) + 20)) + 1);
        }

        if (maxAttempts is { } attempts && set <= attempts)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxReceiveCount), set,
                $"SqsTransportOptions.MaxReceiveCount ({set}) must exceed the bus's Retry.MaxAttempts ({attempts}): otherwise SQS moves a failing " +
                "message to the dead-letter queue before the bus's last attempt, without its failure reason. Leave it unset for one more " +
                "than the bus's Retry.MaxReceiveCount, or raise it.");
        }

        return set;
    }

    /// <summary>The error for a region that could not be found.</summary>
    internal static ArgumentException MissingRegion() => new(
        "SqsTransportOptions.Region is required: set it, the AWS_REGION environment variable or a profile's region, " +
        "or give the transport an IAmazonSQS (SqsTransportOptions.SqsClient, or services.AddAWSService<IAmazonSQS>()).", nameof(Region));

    /// <summary>The region: <see cref="Region"/>, else AWS_REGION / AWS_DEFAULT_REGION, else the region of the AWS
    /// profile (<see cref="Profile"/>, AWS_PROFILE or "default") in the shared config files, read by AWSSDK.Core; else
    /// us-east-1 when <see cref="ServiceUrl"/> points at an emulator. Instance metadata is not asked (set AWS_REGION on
    /// EC2).</summary>
    internal string? ResolveRegion(ICredentialProfileSource? profiles = null) =>
        Region
        ?? Environment.GetEnvironmentVariable("AWS_REGION")
        ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION")
        ?? ProfileRegion(profiles ?? new CredentialProfileStoreChain(), Profile)
        ?? (ServiceUrl is not null ? "us-east-1" : null);

    private static string? ProfileRegion(ICredentialProfileSource profiles, string? profile)
    {
        try
        {
            return (profile is null ? new ProfileAWSRegion(profiles) : new ProfileAWSRegion(profiles, profile)).Region?.SystemName;
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

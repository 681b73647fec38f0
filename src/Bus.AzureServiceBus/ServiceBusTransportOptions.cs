using Azure.Core;

namespace Bus.AzureServiceBus;

/// <summary>Settings of the Azure Service Bus transport. Either <see cref="ConnectionString"/> or
/// <see cref="FullyQualifiedNamespace"/> (with an optional <see cref="TokenCredential"/>) must be set.</summary>
public sealed class ServiceBusTransportOptions
{
    /// <summary>The smallest lock duration Service Bus accepts.</summary>
    public static readonly TimeSpan MinLockDuration = TimeSpan.FromSeconds(5);

    /// <summary>The largest lock duration Service Bus accepts.</summary>
    public static readonly TimeSpan MaxLockDuration = TimeSpan.FromMinutes(5);

    /// <summary>A connection string with <c>Endpoint</c> and either <c>SharedAccessKeyName</c> + <c>SharedAccessKey</c>
    /// or <c>SharedAccessSignature</c> (an <c>EntityPath</c> is ignored).</summary>
    public string? ConnectionString { get; set; }

    /// <summary>The namespace host, e.g. <c>contoso.servicebus.windows.net</c>, used with Entra ID authentication.</summary>
    public string? FullyQualifiedNamespace { get; set; }

    /// <summary>The Entra ID credential used with <see cref="FullyQualifiedNamespace"/>; when null,
    /// <c>DefaultAzureCredential</c> is used.</summary>
    public TokenCredential? TokenCredential { get; set; }

    /// <summary>Prepended to every entity name, e.g. <c>"prod-"</c>, so several environments can share a namespace.</summary>
    public string EntityPrefix { get; set; } = "";

    /// <summary>Create missing entities (default) or only verify they exist.</summary>
    public ProvisioningMode ProvisioningMode { get; set; } = ProvisioningMode.CreateIfMissing;

    /// <summary>The peek-lock duration of queues and subscriptions the transport creates, and the lease every received
    /// message gets (Service Bus fixes it per entity). 5 seconds to 5 minutes; default 60 seconds.</summary>
    public TimeSpan LockDuration { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Deliveries after which Service Bus moves a message to the native dead-letter queue (e.g. when handlers
    /// keep crashing the process). The bus usually dead-letters earlier by its own retry policy. Default 10.</summary>
    public int MaxDeliveryCount { get; set; } = 10;

    /// <summary>The largest message (body plus headers) accepted, in bytes: 256 KB on the Standard tier (default),
    /// up to 100 MB on Premium.</summary>
    public long MaxMessageSize { get; set; } = 256 * 1024;

    /// <summary>How long one receive request waits for a message before returning empty. 1 second to 1 minute;
    /// default 30 seconds.</summary>
    public TimeSpan ReceiveTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many times a throttled (429, 503) or failed (5xx, network) request is retried with back-off. Default 5.</summary>
    public int MaxRetries { get; set; } = 5;

    /// <summary>The first back-off delay, doubled on each retry (with jitter). Default 500 ms.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>An HTTP handler to send requests through (tests, proxies); when null a pooled handler is created.</summary>
    public HttpMessageHandler? HttpMessageHandler { get; set; }

    /// <summary>The clock for lock expiries, scheduling and back-off; <see cref="System.TimeProvider.System"/> when null.</summary>
    public TimeProvider? TimeProvider { get; set; }

    internal void Validate()
    {
        var hasConnectionString = !string.IsNullOrWhiteSpace(ConnectionString);
        var hasNamespace = !string.IsNullOrWhiteSpace(FullyQualifiedNamespace);
        if (hasConnectionString == hasNamespace)
        {
            throw new ArgumentException(
                "Set exactly one of ServiceBusTransportOptions.ConnectionString (SAS) or ServiceBusTransportOptions.FullyQualifiedNamespace (Entra ID).");
        }

        if (hasConnectionString)
        {
            try
            {
                _ = Authentication.ServiceBusConnectionString.Parse(ConnectionString!);
            }
            catch (FormatException e)
            {
                throw new ArgumentException(e.Message, nameof(ConnectionString), e);
            }
        }

        if (TokenCredential is not null && !hasNamespace)
        {
            throw new ArgumentException("ServiceBusTransportOptions.TokenCredential needs FullyQualifiedNamespace (and no ConnectionString).");
        }

        if (hasNamespace && Uri.CheckHostName(NamespaceHost) != UriHostNameType.Dns)
        {
            throw new ArgumentException(
                $"ServiceBusTransportOptions.FullyQualifiedNamespace '{FullyQualifiedNamespace}' is not a host name such as 'contoso.servicebus.windows.net'.");
        }

        ArgumentNullException.ThrowIfNull(EntityPrefix, nameof(EntityPrefix));
        if (EntityPrefix.Length > 0 && !Bus.AzureServiceBus.Topology.EntityNames.IsValidPrefix(EntityPrefix))
        {
            throw new ArgumentException(
                $"ServiceBusTransportOptions.EntityPrefix '{EntityPrefix}' may hold only letters, digits, '.', '-' and '_', must start with a letter or digit and be at most 50 characters.");
        }

        if (!Enum.IsDefined(ProvisioningMode))
        {
            throw new ArgumentOutOfRangeException(nameof(ProvisioningMode), ProvisioningMode, "Unknown ProvisioningMode.");
        }

        if (LockDuration < MinLockDuration || LockDuration > MaxLockDuration)
        {
            throw new ArgumentOutOfRangeException(nameof(LockDuration), LockDuration, "LockDuration must be between 5 seconds and 5 minutes.");
        }

        if (MaxDeliveryCount < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDeliveryCount), MaxDeliveryCount, "MaxDeliveryCount must be at least 1.");
        }

        if (MaxMessageSize < 1024 || MaxMessageSize > 100L * 1024 * 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxMessageSize), MaxMessageSize, "MaxMessageSize must be between 1 KB and 100 MB.");
        }

        if (ReceiveTimeout < TimeSpan.FromSeconds(1) || ReceiveTimeout > TimeSpan.FromMinutes(1))
        {
            throw new ArgumentOutOfRangeException(nameof(ReceiveTimeout), ReceiveTimeout, "ReceiveTimeout must be between 1 second and 1 minute.");
        }

        if (MaxRetries < 0 || MaxRetries > 20)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRetries), MaxRetries, "MaxRetries must be between 0 and 20.");
        }

        if (RetryDelay <= TimeSpan.Zero || RetryDelay > TimeSpan.FromMinutes(1))
        {
            throw new ArgumentOutOfRangeException(nameof(RetryDelay), RetryDelay, "RetryDelay must be more than zero and at most 1 minute.");
        }
    }

    internal string NamespaceHost
    {
        get
        {
            var value = (FullyQualifiedNamespace ?? "").Trim();
            if (Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Host.Length > 0)
            {
                return uri.Host;
            }

            return value.TrimEnd('/');
        }
    }
}

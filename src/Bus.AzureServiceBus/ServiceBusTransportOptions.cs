using Azure.Core;
using Azure.Messaging.ServiceBus;

namespace Bus.AzureServiceBus;

/// <summary>
/// Settings of the Azure Service Bus transport. Connect with one of: <see cref="ConnectionString"/>;
/// <see cref="FullyQualifiedNamespace"/> with a <see cref="TokenCredential"/> (<c>DefaultAzureCredential</c> when none
/// is given); or neither, to use the <see cref="ServiceBusClient"/> (and <c>ServiceBusAdministrationClient</c>)
/// registered in the service collection.
/// </summary>
public sealed class ServiceBusTransportOptions
{
    /// <summary>The smallest lock duration Service Bus accepts.</summary>
    public static readonly TimeSpan MinLockDuration = TimeSpan.FromSeconds(5);

    /// <summary>The largest lock duration Service Bus accepts.</summary>
    public static readonly TimeSpan MaxLockDuration = TimeSpan.FromMinutes(5);

    /// <summary>The message size limit of the Standard tier, in kilobytes.</summary>
    public const int StandardMaxMessageSizeInKilobytes = 256;

    /// <summary>A namespace connection string (<c>Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...</c>, or
    /// with <c>SharedAccessSignature</c>). Needs Manage rights unless <see cref="ProvisioningMode.VerifyOnly"/> is used
    /// and the entities exist.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>The namespace host, e.g. <c>contoso.servicebus.windows.net</c>, used with <see cref="TokenCredential"/>.</summary>
    public string? FullyQualifiedNamespace { get; set; }

    /// <summary>The Entra ID credential used with <see cref="FullyQualifiedNamespace"/> (or, with a client from the
    /// service collection, for the administration client when none is registered); when null,
    /// <c>DefaultAzureCredential</c> is used.</summary>
    public TokenCredential? TokenCredential { get; set; }

    /// <summary>Options of the <see cref="ServiceBusClient"/> the transport creates: retry policy, transport type (e.g.
    /// <see cref="ServiceBusTransportType.AmqpWebSockets"/> through port 443), proxy. Not used with a client from the
    /// service collection.</summary>
    public ServiceBusClientOptions? ClientOptions { get; set; }

    /// <summary>Prepended to every entity name, e.g. <c>"prod-"</c>, so several environments can share a namespace.</summary>
    public string EntityPrefix { get; set; } = "";

    /// <summary>Create missing entities and correct their settings (default), or only verify them.</summary>
    public ProvisioningMode ProvisioningMode { get; set; } = ProvisioningMode.CreateIfMissing;

    /// <summary>The namespace's tier, or null (default) to read it from the namespace at start-up (needs Manage rights;
    /// Standard is assumed when it cannot be read). The Basic tier has no topics and no transactions.</summary>
    public ServiceBusTier? Tier { get; set; }

    /// <summary>The peek-lock duration of queues and subscriptions, and the lease every received message gets (Service
    /// Bus fixes it per entity). 5 seconds to 5 minutes; default 60 seconds.</summary>
    public TimeSpan LockDuration { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Deliveries after which Service Bus moves a message to the dead-letter sub-queue by itself (e.g. when
    /// handlers keep crashing the process). Must be above the bus's <c>Retry.MaxAttempts</c>, so the bus's own retry
    /// policy decides first. Default 10.</summary>
    public int MaxDeliveryCount { get; set; } = 10;

    /// <summary>The size of queues and topics the transport creates, in megabytes: 1024 to 5120 on Standard, up to
    /// 81920 on Premium. Default 1024.</summary>
    public int MaxSizeInMegabytes { get; set; } = 1024;

    /// <summary>The largest message of entities created on Premium, in kilobytes (1024 to 102400), or null for the
    /// namespace's default. On Standard the limit is fixed at 256 KB and this must stay null. Sends are checked against
    /// the limit each entity reports.</summary>
    public long? MaxMessageSizeInKilobytes { get; set; }

    /// <summary>How long one receive waits for a message before returning empty. 1 second to 1 minute; default 30 seconds.</summary>
    public TimeSpan ReceiveTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Messages the receiver fetches ahead (<see cref="ServiceBusReceiverOptions.PrefetchCount"/>), or null
    /// (default) for none. Prefetched messages are locked while they wait and Service Bus counts each lock in its
    /// DeliveryCount, so a host killed with messages prefetched costs each of them an attempt; the endpoint's
    /// <c>Prefetch</c> does not apply here for that reason. Set it only when that trade is worth the fewer round trips.</summary>
    public int? PrefetchCount { get; set; }

    /// <summary>
    /// Give every endpoint queue a priority queue, <c>{queue}-priority</c> (created or verified with the queue, with the
    /// same settings and its own <c>$DeadLetterQueue</c>, which the dead-letter operations read along with the queue's).
    /// Messages with a <see cref="DeliveryOptions.Priority"/> above 0 are sent to it (events with a priority go to the
    /// priority queue of each subscription's forwarding target, not through the topic); receivers take from it first, in
    /// <see cref="PriorityRatio"/>. Default false: each receive then asks the priority queue first, waiting up to
    /// 100 milliseconds when it is empty, which an endpoint that uses no priorities should not pay. Every endpoint that
    /// sends to another must agree on it. Off, the transport declares <see cref="Transports.PriorityOrdering.None"/>:
    /// strict start-up refuses a type's <see cref="MessagePriorityAttribute"/>, and a send with a priority throws.
    /// </summary>
    public bool PriorityQueue { get; set; }

    /// <summary>At most this many priority messages are received in a row while the normal queue has messages; then the
    /// normal queue gets a receive (<see cref="Transports.PriorityDrain"/>). 1 to 100, default 4.</summary>
    public int PriorityRatio { get; set; } = Transports.PriorityDrain.DefaultRatio;

    /// <summary>The clock for lock expiries and scheduling; <see cref="System.TimeProvider.System"/> when null.</summary>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>Whether a missing capability (e.g. transactions on Basic) fails start-up; set from the bus's <c>Strict</c>.</summary>
    internal bool Strict { get; set; } = true;

    /// <summary>The message size limit the transport announces, in bytes: the configured Premium size, or 256 KB.</summary>
    internal long MaxMessageSize => (MaxMessageSizeInKilobytes ?? StandardMaxMessageSizeInKilobytes) * 1024;

    /// <summary>Whether the client comes from the service collection.</summary>
    internal bool UsesClientFromServices =>
        string.IsNullOrWhiteSpace(ConnectionString) && string.IsNullOrWhiteSpace(FullyQualifiedNamespace);

    /// <summary>Checks every setting; the message says what to change.</summary>
    /// <exception cref="ArgumentException">A setting is invalid.</exception>
    internal void Validate()
    {
        var hasConnectionString = !string.IsNullOrWhiteSpace(ConnectionString);
        var hasNamespace = !string.IsNullOrWhiteSpace(FullyQualifiedNamespace);
        if (hasConnectionString && hasNamespace)
        {
            throw new ArgumentException(
                "Set either ServiceBusTransportOptions.ConnectionString or ServiceBusTransportOptions.FullyQualifiedNamespace (with a TokenCredential), not both.");
        }

        if (hasConnectionString)
        {
            try
            {
                _ = ServiceBusConnectionStringProperties.Parse(ConnectionString);
            }
            catch (FormatException e)
            {
                throw new ArgumentException(
                    $"ServiceBusTransportOptions.ConnectionString is not a Service Bus connection string ({e.Message}). Copy it from the namespace's " +
                    "'Shared access policies' page: Endpoint=sb://<namespace>.servicebus.windows.net/;SharedAccessKeyName=...;SharedAccessKey=...",
                    nameof(ConnectionString), e);
            }

            if (TokenCredential is not null)
            {
                throw new ArgumentException(
                    "ServiceBusTransportOptions.TokenCredential is used with FullyQualifiedNamespace; a connection string carries its own key. Remove one of them.");
            }
        }

        if (hasNamespace && Uri.CheckHostName(NamespaceHost) != UriHostNameType.Dns)
        {
            throw new ArgumentException(
                $"ServiceBusTransportOptions.FullyQualifiedNamespace '{FullyQualifiedNamespace}' is not a host name; set it to e.g. 'contoso.servicebus.windows.net'.");
        }

        if (EntityPrefix is null)
        {
            throw new ArgumentException("ServiceBusTransportOptions.EntityPrefix must not be null; use \"\" for no prefix.");
        }

        if (EntityPrefix.Length > 0 && !Topology.EntityNames.IsValidPrefix(EntityPrefix))
        {
            throw new ArgumentException(
                $"ServiceBusTransportOptions.EntityPrefix '{EntityPrefix}' may hold only letters, digits, '.', '-' and '_', must start with a letter or digit and be at most 50 characters.");
        }

        if (!Enum.IsDefined(ProvisioningMode))
        {
            throw new ArgumentException($"ServiceBusTransportOptions.ProvisioningMode {ProvisioningMode} is unknown; use CreateIfMissing or VerifyOnly.");
        }

        if (Tier is { } tier && !Enum.IsDefined(tier))
        {
            throw new ArgumentException($"ServiceBusTransportOptions.Tier {tier} is unknown; use Basic, Standard, Premium, or null to read it from the namespace.");
        }

        if (LockDuration < MinLockDuration || LockDuration > MaxLockDuration)
        {
            throw new ArgumentException($"ServiceBusTransportOptions.LockDuration {LockDuration} is out of range; set it between 5 seconds and 5 minutes.");
        }

        if (MaxDeliveryCount < 1)
        {
            throw new ArgumentException($"ServiceBusTransportOptions.MaxDeliveryCount {MaxDeliveryCount} is out of range; set it to 1 or more (above the bus's Retry.MaxAttempts).");
        }

        if (MaxSizeInMegabytes is < 1024 or > 81920)
        {
            throw new ArgumentException($"ServiceBusTransportOptions.MaxSizeInMegabytes {MaxSizeInMegabytes} is out of range; set it between 1024 and 5120 (Standard) or 81920 (Premium).");
        }

        if (MaxMessageSizeInKilobytes is { } kilobytes && (kilobytes < 1024 || kilobytes > 102400))
        {
            throw new ArgumentException(
                $"ServiceBusTransportOptions.MaxMessageSizeInKilobytes {kilobytes} is out of range; set it between 1024 and 102400 (Premium only), or leave it null.");
        }

        if (MaxMessageSizeInKilobytes is not null && Tier is ServiceBusTier.Basic or ServiceBusTier.Standard)
        {
            throw new ArgumentException(
                $"ServiceBusTransportOptions.MaxMessageSizeInKilobytes can only be set on the Premium tier (Tier is {Tier}); leave it null for the fixed 256 KB.");
        }

        if (ReceiveTimeout < TimeSpan.FromSeconds(1) || ReceiveTimeout > TimeSpan.FromMinutes(1))
        {
            throw new ArgumentException($"ServiceBusTransportOptions.ReceiveTimeout {ReceiveTimeout} is out of range; set it between 1 second and 1 minute.");
        }

        Transports.PriorityDrain.Validate(PriorityRatio, "ServiceBusTransportOptions.PriorityRatio");

        if (PrefetchCount is < 0 or > 10_000)
        {
            throw new ArgumentException($"ServiceBusTransportOptions.PrefetchCount {PrefetchCount} is out of range; set it between 0 and 10,000, or null for the endpoint's Prefetch.");
        }
    }

    /// <summary>The namespace host, with a scheme or trailing slash taken off.</summary>
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

/// <summary>The tier of a Service Bus namespace: what it can do.</summary>
public enum ServiceBusTier
{
    /// <summary>Queues only: no topics, no transactions (a delayed retry's copy and the original's completion are two
    /// steps, so a crash between them delivers the message twice).</summary>
    Basic,

    /// <summary>Queues, topics, transactions; messages up to 256 KB.</summary>
    Standard,

    /// <summary>As Standard, with messages up to 100 MB.</summary>
    Premium,
}

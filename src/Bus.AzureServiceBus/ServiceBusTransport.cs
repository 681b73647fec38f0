using Azure;
using Azure.Identity;
using Azure.Messaging.ServiceBus;
using Azure.Messaging.ServiceBus.Administration;
using Bus.AzureServiceBus.Connection;
using Bus.AzureServiceBus.DeadLetters;
using Bus.AzureServiceBus.Messages;
using Bus.AzureServiceBus.Receiving;
using Bus.AzureServiceBus.Topology;
using Bus.Transports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bus.AzureServiceBus;

/// <summary>
/// Azure Service Bus over AMQP (<c>Azure.Messaging.ServiceBus</c>): a queue per endpoint, a topic per event with a
/// subscription per subscribing endpoint that forwards into the endpoint's queue, peek-lock leases of the entity's
/// LockDuration renewed with <c>RenewMessageLockAsync</c>, native dead-lettering into the queue's
/// <c>$DeadLetterQueue</c>, and delayed retries as scheduled copies completed with the original in one transaction.
/// </summary>
public sealed class ServiceBusTransport : ITransport
{
    private const string TransportName = "azure-service-bus";

    /// <summary>How long a receive from a priority queue waits when it is empty (ServiceBusTransportOptions.PriorityQueue).</summary>
    private static readonly TimeSpan PriorityWait = TimeSpan.FromMilliseconds(100);

    private readonly ServiceBusTransportOptions _options;
    private readonly ServiceBusAdministrationClient _admin;
    private readonly EntityClients _clients;
    private readonly EntityNames _names;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly EntitySizeLimits _limits;
    private readonly TopologyProvisioner _provisioner;
    private readonly ServiceBusDeadLetterQueue _deadLetters;
    private readonly SemaphoreSlim _tierGate = new(1, 1);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, PriorityDrain> _drains = new(StringComparer.Ordinal);
    private ServiceBusTier? _tier;

    /// <summary>Creates the transport with a client of its own, from <see cref="ServiceBusTransportOptions.ConnectionString"/>
    /// or <see cref="ServiceBusTransportOptions.FullyQualifiedNamespace"/>.</summary>
    /// <param name="options">The settings; validated here.</param>
    /// <param name="loggerFactory">Where warnings go, or null.</param>
    /// <exception cref="ArgumentException">A setting is invalid or neither connection setting is given; the message says what to set.</exception>
    public ServiceBusTransport(ServiceBusTransportOptions options, ILoggerFactory? loggerFactory = null)
        : this(Validated(options), CreateClient(options), CreateAdministrationClient(options), ownsClient: true, loggerFactory)
    {
    }

    /// <summary>Creates the transport over clients the application made (and disposes, the transport does not).</summary>
    /// <param name="options">The settings (connection settings are not used); validated here.</param>
    /// <param name="client">The client messages are sent and received with.</param>
    /// <param name="administrationClient">The client entities are created and read with.</param>
    /// <param name="loggerFactory">Where warnings go, or null.</param>
    public ServiceBusTransport(
        ServiceBusTransportOptions options, ServiceBusClient client, ServiceBusAdministrationClient administrationClient, ILoggerFactory? loggerFactory = null)
        : this(Validated(options), client ?? throw new ArgumentNullException(nameof(client)),
            administrationClient ?? throw new ArgumentNullException(nameof(administrationClient)), ownsClient: false, loggerFactory)
    {
    }

    private ServiceBusTransport(
        ServiceBusTransportOptions options, ServiceBusClient client, ServiceBusAdministrationClient admin, bool ownsClient, ILoggerFactory? loggerFactory)
    {
        _options = options;
        _admin = admin;
        _time = options.TimeProvider ?? TimeProvider.System;
        _log = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ServiceBusTransport>();
        _names = new EntityNames(options.EntityPrefix);
        _clients = new EntityClients(client, ownsClient, options.PrefetchCount ?? 0);
        _limits = new EntitySizeLimits(admin, options.MaxMessageSize);
        _provisioner = new TopologyProvisioner(admin, _names, options, _limits);
        _deadLetters = new ServiceBusDeadLetterQueue(_clients, _names, TimeSpan.FromSeconds(1), options.PriorityQueue);
        Statistics = new Statistics.ServiceBusQueueStatistics(admin, _clients, _names, options.EntityPrefix, _time, options.PriorityQueue);
        _tier = options.Tier;
        Capabilities = new TransportCapabilities
        {
            Name = TransportName,
            CanRenewLease = true,
            MaxLeaseDuration = options.LockDuration,
            LeaseDurationIsFixed = true,
            MaxDelay = TimeSpan.FromDays(365),
            NativeDeadLetter = true,
            PublishSubscribe = options.Tier != ServiceBusTier.Basic,
            Redrive = true,
            SharedBetweenHosts = true,
            PriorityOrdering = options.PriorityQueue ? PriorityOrdering.PriorityQueue : PriorityOrdering.None,
            MaxMessageSize = options.MaxMessageSize,
        };
    }

    /// <inheritdoc />
    public TransportCapabilities Capabilities { get; }

    /// <inheritdoc />
    public IDeadLetterQueue DeadLetters => _deadLetters;

    /// <inheritdoc />
    /// <remarks>From the queue's runtime properties: ready is ActiveMessageCount, which includes locked messages, so in
    /// flight is null; delayed is ScheduledMessageCount; the oldest age is peeked from the head of the queue.</remarks>
    public IQueueStatistics Statistics { get; }

    /// <summary>The namespace's tier as the transport uses it: the configured one, else the one read at provisioning.</summary>
    public ServiceBusTier? Tier => _tier;

    /// <inheritdoc />
    /// <remarks>Reads the namespace's tier first (unless configured): on Basic, which has no transactions, a strict bus
    /// refuses to start and a lenient one logs what it loses.</remarks>
    public async Task ProvisionAsync(TransportTopology topology, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(topology);
        EntityNames.RefusePrioritySuffix(topology.InputQueue);
        var tier = await TierAsync(cancellationToken).ConfigureAwait(false);
        await _provisioner.ProvisionAsync(topology, tier, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task SendAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var groups = new List<(string Entity, bool Topic, List<OutgoingMessage> Messages)>();
        foreach (var outgoing in messages)
        {
            var topic = outgoing.Destination.Kind == DestinationKind.Topic;
            var priority = _options.PriorityQueue && outgoing.Message.Priority > 0;
            IEnumerable<(string Entity, bool Topic)> targets = (topic, priority) switch
            {
                (false, false) => [(_names.Queue(outgoing.Destination.Name), false)],
                (false, true) => [(_names.PriorityQueue(outgoing.Destination.Name), false)],
                (true, false) => [(_names.Topic(outgoing.Destination.Name), true)],
                (true, true) => (await SubscribedPriorityQueuesAsync(outgoing.Destination.Name, cancellationToken).ConfigureAwait(false)).Select(q => (q, false)),
            };
            foreach (var (entity, isTopic) in targets)
            {
                var group = groups.FindIndex(g => g.Entity == entity && g.Topic == isTopic);
                if (group < 0)
                {
                    groups.Add((entity, isTopic, [outgoing]));
                }
                else
                {
                    groups[group].Messages.Add(outgoing);
                }
            }
        }

        // Every size is checked before anything is sent.
        var limits = new long[groups.Count];
        for (var i = 0; i < groups.Count; i++)
        {
            limits[i] = await _limits.LimitAsync(groups[i].Entity, groups[i].Topic, cancellationToken).ConfigureAwait(false);
            foreach (var outgoing in groups[i].Messages)
            {
                MessageSizeLimit.Check(outgoing.Message, limits[i], TransportName);
            }
        }

        for (var i = 0; i < groups.Count; i++)
        {
            try
            {
                await SendGroupAsync(groups[i].Entity, groups[i].Messages, limits[i], cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (i > 0 && e is ServiceBusException or OperationCanceledException)
            {
                var sent = groups.Take(i).SelectMany(g => g.Messages).Select(m => m.Message.MessageId);
                var notSent = groups.Skip(i).SelectMany(g => g.Messages).Select(m => m.Message.MessageId);
                throw new ServiceBusException(
                    $"Sending to '{groups[i].Entity}' failed after other messages were sent. Sent: {string.Join(", ", sent)}. " +
                    $"Not sent (or not confirmed): {string.Join(", ", notSent)}. {e.Message}",
                    (e as ServiceBusException)?.Reason ?? ServiceBusFailureReason.GeneralError,
                    groups[i].Entity,
                    e);
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>Service Bus fixes the lease at the entity's LockDuration, so <paramref name="leaseDuration"/> is not used.
    /// Waits up to <see cref="ServiceBusTransportOptions.ReceiveTimeout"/> for the first message and returns what came, up
    /// to <paramref name="maxMessages"/>.</remarks>
    public async ValueTask<IReadOnlyList<IReceivedMessage>> ReceiveAsync(
        string queue, int maxMessages, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
        if (!_options.PriorityQueue)
        {
            return await ReceiveFromAsync(queue, _names.Queue(queue), maxMessages, _options.ReceiveTimeout, cancellationToken).ConfigureAwait(false);
        }

        // The priority queue first, waiting briefly, in the ratio (PriorityDrain); else the queue's own receive timeout.
        var drain = _drains.GetOrAdd(queue, _ => new PriorityDrain(_options.PriorityRatio));
        return await drain.ReceiveAsync(
            maxMessages,
            (max, ct) => ReceiveFromAsync(queue, _names.PriorityQueue(queue), max, PriorityWait, ct),
            (max, wait, ct) => ReceiveFromAsync(queue, _names.Queue(queue), max, wait ? _options.ReceiveTimeout : PriorityWait, ct),
            cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<IReadOnlyList<IReceivedMessage>> ReceiveFromAsync(
        string queue, string entity, int maxMessages, TimeSpan wait, CancellationToken cancellationToken)
    {
        var receiver = _clients.Receiver(entity);
        var received = await receiver.ReceiveMessagesAsync(maxMessages, wait, cancellationToken).ConfigureAwait(false);
        if (received.Count == 0)
        {
            return [];
        }

        var transactions = await TierAsync(cancellationToken).ConfigureAwait(false) != ServiceBusTier.Basic;
        var limit = await _limits.LimitAsync(entity, topic: false, cancellationToken).ConfigureAwait(false);
        var sender = _clients.Sender(entity);
        var result = new IReceivedMessage[received.Count];
        for (var i = 0; i < received.Count; i++)
        {
            result[i] = new ServiceBusDelivery(receiver, sender, received[i], queue, _time, transactions, limit);
        }

        return result;
    }

    /// <summary>The priority queues of the queues the topic's subscriptions forward to: where an event with a priority
    /// goes instead of the topic (a subscription forwards into the normal queue).</summary>
    private async Task<List<string>> SubscribedPriorityQueuesAsync(string topic, CancellationToken cancellationToken)
    {
        var queues = new List<string>();
        try
        {
            await foreach (var subscription in _admin.GetSubscriptionsAsync(_names.Topic(topic), cancellationToken).ConfigureAwait(false))
            {
                if (!string.IsNullOrEmpty(subscription.ForwardTo))
                {
                    var target = subscription.ForwardTo[(subscription.ForwardTo.TrimEnd('/').LastIndexOf('/') + 1)..].TrimEnd('/');
                    queues.Add(EntityNames.PriorityQueueOf(target));
                }
            }
        }
        catch (ServiceBusException e) when (e.Reason == ServiceBusFailureReason.MessagingEntityNotFound)
        {
            // No topic: no subscribers, as a publish to a topic without subscriptions reaches no one.
        }

        return queues;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _clients.DisposeAsync().ConfigureAwait(false);
        _tierGate.Dispose();
    }

    /// <summary>Sends one entity's messages in as few calls as fit its size limit (a batch is at most 1 MB).</summary>
    private async Task SendGroupAsync(string entity, List<OutgoingMessage> messages, long limit, CancellationToken cancellationToken)
    {
        try
        {
            await SendBatchesAsync(entity, messages, limit, cancellationToken).ConfigureAwait(false);
        }
        catch (ServiceBusException e) when (e.Reason == ServiceBusFailureReason.MessagingEntityNotFound)
        {
            throw new ServiceBusException(
                $"Service Bus entity '{entity}' does not exist. Start the endpoint that receives from it (it creates its queue and " +
                "topics), create it, or check the route and ServiceBusTransportOptions.EntityPrefix.",
                e.Reason, entity, e);
        }
    }

    private async Task SendBatchesAsync(string entity, List<OutgoingMessage> messages, long limit, CancellationToken cancellationToken)
    {
        var sender = _clients.Sender(entity);
        var batchLimit = Math.Min(limit, 1024 * 1024) - 8 * 1024;
        var batch = new List<ServiceBusMessage>();
        long batchSize = 0;
        foreach (var outgoing in messages)
        {
            var size = MessageSizeLimit.SizeOf(outgoing.Message) + 512;
            if (batch.Count > 0 && batchSize + size > batchLimit)
            {
                await sender.SendMessagesAsync(batch, cancellationToken).ConfigureAwait(false);
                batch = [];
                batchSize = 0;
            }

            batch.Add(MessageMapping.ToServiceBus(outgoing.Message, outgoing.VisibleAt));
            batchSize += size;
        }

        if (batch.Count == 1)
        {
            await sender.SendMessageAsync(batch[0], cancellationToken).ConfigureAwait(false);
        }
        else if (batch.Count > 1)
        {
            await sender.SendMessagesAsync(batch, cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask<ServiceBusTier> TierAsync(CancellationToken cancellationToken)
    {
        if (_tier is { } known)
        {
            return known;
        }

        await _tierGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_tier is null)
            {
                ServiceBusTier tier;
                try
                {
                    var sku = (await _admin.GetNamespacePropertiesAsync(cancellationToken).ConfigureAwait(false)).Value.MessagingSku;
                    tier = sku == MessagingSku.Basic ? ServiceBusTier.Basic : sku == MessagingSku.Premium ? ServiceBusTier.Premium : ServiceBusTier.Standard;
                }
                catch (Exception e) when (e is ServiceBusException or RequestFailedException or UnauthorizedAccessException)
                {
                    _log.LogWarning(e,
                        "Could not read the Service Bus namespace's tier; assuming Standard (transactions, 256 KB messages). " +
                        "Set ServiceBusTransportOptions.Tier to say which it is.");
                    tier = ServiceBusTier.Standard;
                }

                CheckTier(tier);
                _tier = tier;
            }

            return _tier.Value;
        }
        finally
        {
            _tierGate.Release();
        }
    }

    private void CheckTier(ServiceBusTier tier)
    {
        if (tier != ServiceBusTier.Basic)
        {
            return;
        }

        const string lost = "The Basic tier of Azure Service Bus has no transactions: a delayed retry or a release sends a copy and then " +
                            "completes the original in two steps, so a crash between them delivers the message twice. It has no topics either.";
        if (_options.Strict)
        {
            throw new BusConfigurationException(lost + " Use a Standard or Premium namespace, or set bus.Strict = false to accept this.");
        }

        _log.LogWarning("{Warning}", lost + " Running anyway because the bus is not strict.");
    }

    private static ServiceBusTransportOptions Validated(ServiceBusTransportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options;
    }

    private static ServiceBusClient CreateClient(ServiceBusTransportOptions options)
    {
        options.Validate();
        if (!string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            return new ServiceBusClient(options.ConnectionString, options.ClientOptions ?? new ServiceBusClientOptions());
        }

        if (!string.IsNullOrWhiteSpace(options.FullyQualifiedNamespace))
        {
            return new ServiceBusClient(options.NamespaceHost, options.TokenCredential ?? new DefaultAzureCredential(), options.ClientOptions ?? new ServiceBusClientOptions());
        }

        throw new ArgumentException(
            "Set ServiceBusTransportOptions.ConnectionString, or FullyQualifiedNamespace (with a TokenCredential), or pass the clients to the " +
            "ServiceBusTransport constructor (UseAzureServiceBus takes them from the service collection when neither is set).");
    }

    private static ServiceBusAdministrationClient CreateAdministrationClient(ServiceBusTransportOptions options) =>
        !string.IsNullOrWhiteSpace(options.ConnectionString)
            ? new ServiceBusAdministrationClient(options.ConnectionString)
            : new ServiceBusAdministrationClient(options.NamespaceHost, options.TokenCredential ?? new DefaultAzureCredential());
}

using Azure.Identity;
using Bus.AzureServiceBus.Authentication;
using Bus.AzureServiceBus.Receiving;
using Bus.AzureServiceBus.Rest;
using Bus.AzureServiceBus.Topology;
using Bus.Transports;

namespace Bus.AzureServiceBus;

/// <summary>
/// Azure Service Bus over its REST API: a queue per endpoint, a topic per event with a forwarding subscription per
/// subscribing endpoint, peek-lock leases of the entity's LockDuration, scheduled messages for delays, and an error
/// queue per endpoint (<c>{queue}-error</c>) for dead letters next to the native <c>$DeadLetterQueue</c>.
/// Authenticates with a SAS connection string or an Entra ID credential.
/// </summary>
public sealed class ServiceBusTransport : ITransport
{
    private readonly IServiceBusRestClient _client;
    private readonly EntityNames _names;
    private readonly ServiceBusTransportOptions _options;
    private readonly TimeProvider _time;
    private readonly TopologyProvisioner _provisioner;
    private readonly ServiceBusDeadLetterQueue _deadLetters;

    /// <summary>Creates the transport.</summary>
    /// <param name="options">The settings; validated here.</param>
    /// <exception cref="ArgumentException">A setting is invalid or the connection string lacks a part; the message names it.</exception>
    public ServiceBusTransport(ServiceBusTransportOptions options)
        : this(options, CreateClient(options ?? throw new ArgumentNullException(nameof(options)), out var namespaceUri), namespaceUri)
    {
    }

    internal ServiceBusTransport(ServiceBusTransportOptions options, IServiceBusRestClient client, Uri namespaceUri)
    {
        _options = options;
        _client = client;
        _time = options.TimeProvider ?? TimeProvider.System;
        _names = new EntityNames(options.EntityPrefix);
        _provisioner = new TopologyProvisioner(client, _names, options, namespaceUri);
        _deadLetters = new ServiceBusDeadLetterQueue(client, _names, _time);
        Capabilities = new TransportCapabilities
        {
            Name = "azure-service-bus",
            CanRenewLease = true,
            MaxLeaseDuration = options.LockDuration,
            LeaseDurationIsFixed = true,
            MaxDelay = TimeSpan.FromDays(365),
            NativeDeadLetter = true,
            PublishSubscribe = true,
            Redrive = true,
            MaxMessageSize = options.MaxMessageSize,
        };
    }

    /// <inheritdoc />
    public TransportCapabilities Capabilities { get; }

    /// <inheritdoc />
    public IDeadLetterQueue DeadLetters => _deadLetters;

    /// <inheritdoc />
    public Task ProvisionAsync(TransportTopology topology, CancellationToken cancellationToken) =>
        _provisioner.ProvisionAsync(topology, cancellationToken);

    /// <inheritdoc />
    public async Task SendAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var groups = new List<(string Entity, List<OutgoingBrokerMessage> Messages, List<string?> Ids)>();
        foreach (var outgoing in messages)
        {
            MessageSizeLimit.Check(outgoing.Message, _options.MaxMessageSize, Capabilities.Name);
            var entity = outgoing.Destination.Kind == DestinationKind.Queue
                ? _names.Queue(outgoing.Destination.Name)
                : _names.Topic(outgoing.Destination.Name);
            var broker = BrokerMessageMapping.ToBroker(outgoing.Message, outgoing.VisibleAt);
            var group = groups.FindIndex(g => g.Entity == entity);
            if (group < 0)
            {
                groups.Add((entity, [broker], [outgoing.Message.MessageId]));
            }
            else
            {
                groups[group].Messages.Add(broker);
                groups[group].Ids.Add(outgoing.Message.MessageId);
            }
        }

        for (var i = 0; i < groups.Count; i++)
        {
            try
            {
                await _client.SendAsync(groups[i].Entity, groups[i].Messages, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (i > 0 && e is ServiceBusRequestException or OperationCanceledException)
            {
                var sent = groups.Take(i).SelectMany(g => g.Ids);
                var notSent = groups.Skip(i).SelectMany(g => g.Ids);
                throw new ServiceBusRequestException(
                    $"Sending to '{groups[i].Entity}' failed after other messages were sent. Sent: {string.Join(", ", sent)}. " +
                    $"Not sent (or not confirmed): {string.Join(", ", notSent)}. {e.Message}",
                    (e as ServiceBusRequestException)?.StatusCode,
                    groups[i].Entity,
                    e);
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>Service Bus fixes the lease at the entity's LockDuration, so <paramref name="leaseDuration"/> is not used.
    /// The first request long-polls for <see cref="ServiceBusTransportOptions.ReceiveTimeout"/>; once a message came,
    /// up to <paramref name="maxMessages"/> - 1 more are fetched at once without waiting.</remarks>
    public async ValueTask<IReadOnlyList<IReceivedMessage>> ReceiveAsync(
        string queue, int maxMessages, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
        var entity = _names.Queue(queue);
        var first = await _client.PeekLockAsync(entity, _options.ReceiveTimeout, cancellationToken).ConfigureAwait(false);
        if (first is null)
        {
            return [];
        }

        var locked = new List<LockedBrokerMessage> { first };
        if (maxMessages > 1)
        {
            // No cancellation here: a response carrying a locked message must not be dropped half-way.
            var more = await Task.WhenAll(Enumerable.Range(0, maxMessages - 1)
                .Select(_ => PeekOrNullAsync(entity))).ConfigureAwait(false);
            locked.AddRange(more.OfType<LockedBrokerMessage>());
        }

        var errorEntity = _names.ErrorQueue(queue);
        return locked.Select(l => (IReceivedMessage)new ServiceBusReceivedMessage(_client, l, queue, entity, errorEntity, _options.LockDuration, _time)).ToList();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<LockedBrokerMessage?> PeekOrNullAsync(string entity)
    {
        try
        {
            return await _client.PeekLockAsync(entity, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
        }
        catch (ServiceBusRequestException)
        {
            return null; // the first message is already in hand; the rest can wait for the next receive
        }
    }

    private static HttpServiceBusRestClient CreateClient(ServiceBusTransportOptions options, out Uri namespaceUri)
    {
        options.Validate();
        var time = options.TimeProvider ?? TimeProvider.System;
        IAuthorizationProvider authorization;
        if (!string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            var parsed = ServiceBusConnectionString.Parse(options.ConnectionString);
            namespaceUri = parsed.Endpoint;
            authorization = parsed.SharedAccessSignature is { } signature
                ? new FixedSignatureProvider(signature)
                : new SasTokenProvider(parsed.KeyName!, parsed.Key!, namespaceUri, time);
        }
        else
        {
            namespaceUri = new Uri($"https://{options.NamespaceHost}/");
            authorization = new EntraTokenProvider(options.TokenCredential ?? new DefaultAzureCredential(), time);
        }

        var http = options.HttpMessageHandler is { } handler
            ? new HttpClient(handler, disposeHandler: false)
            : new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) });
        http.Timeout = options.ReceiveTimeout + TimeSpan.FromSeconds(60);
        return new HttpServiceBusRestClient(http, namespaceUri, authorization, time, options.MaxRetries, options.RetryDelay, options.MaxMessageSize);
    }
}

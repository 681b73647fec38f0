using System.Collections.Concurrent;
using Azure.Messaging.ServiceBus;

namespace Bus.AzureServiceBus.Connection;

/// <summary>
/// The senders and receivers of one <see cref="ServiceBusClient"/>, made once per entity and kept for the transport's
/// life (they are cheap to keep and costly to open). Disposing disposes them, and the client when the transport made it.
/// </summary>
internal sealed class EntityClients(ServiceBusClient client, bool ownsClient, int prefetchCount) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, ServiceBusSender> _senders = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ServiceBusReceiver> _receivers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ServiceBusReceiver> _deadLetterReceivers = new(StringComparer.Ordinal);

    /// <summary>The client.</summary>
    public ServiceBusClient Client => client;

    /// <summary>The sender of a queue or topic.</summary>
    public ServiceBusSender Sender(string entity) => _senders.GetOrAdd(entity, static (name, c) => c.CreateSender(name), client);

    /// <summary>The peek-lock receiver of a queue, prefetching as configured.</summary>
    public ServiceBusReceiver Receiver(string queue) => _receivers.GetOrAdd(queue, static (name, state) =>
        state.client.CreateReceiver(name, new ServiceBusReceiverOptions
        {
            ReceiveMode = ServiceBusReceiveMode.PeekLock,
            PrefetchCount = state.prefetchCount,
        }), (client, prefetchCount));

    /// <summary>The peek-lock receiver of a queue's dead-letter sub-queue (no prefetch: it is read by tools).</summary>
    public ServiceBusReceiver DeadLetterReceiver(string queue) => _deadLetterReceivers.GetOrAdd(queue, static (name, c) =>
        c.CreateReceiver(name, new ServiceBusReceiverOptions
        {
            ReceiveMode = ServiceBusReceiveMode.PeekLock,
            SubQueue = SubQueue.DeadLetter,
        }), client);

    public async ValueTask DisposeAsync()
    {
        foreach (var receiver in _receivers.Values.Concat(_deadLetterReceivers.Values))
        {
            await receiver.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var sender in _senders.Values)
        {
            await sender.DisposeAsync().ConfigureAwait(false);
        }

        if (ownsClient)
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }
    }
}

namespace Bus.Transports;

/// <summary>
/// The seam between the bus and a message broker. A transport moves <see cref="TransportMessage"/>s and holds
/// leases; it knows nothing of handlers, types or retries. Settlement happens on the <see cref="IReceivedMessage"/>
/// it hands out, which is the lock context of one delivery.
/// </summary>
public interface ITransport : IAsyncDisposable
{
    /// <summary>What this transport can do.</summary>
    TransportCapabilities Capabilities { get; }

    /// <summary>Dead-letter access: list, redrive and purge.</summary>
    IDeadLetterQueue DeadLetters { get; }

    /// <summary>
    /// Counts per queue (ready, in flight, delayed, dead-lettered, age of the oldest message), or null when the transport
    /// cannot count. A transport that can returns an <see cref="IQueueStatistics"/> here; the bus then serves it from
    /// dependency injection, reports it as gauges on the <c>Bus</c> meter and uses it in its health checks. The default
    /// is null, so transports written before it still compile; a transport that wraps another should pass it through.
    /// </summary>
    IQueueStatistics? Statistics => null;

    /// <summary>Creates (or, in verify-only mode, checks) the queues, topics and subscriptions of an endpoint.</summary>
    Task ProvisionAsync(TransportTopology topology, CancellationToken cancellationToken);

    /// <summary>Sends messages to queues or topics. Either every message is accepted or an exception says which
    /// were not.</summary>
    Task SendAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken);

    /// <summary>
    /// Sends one message to a queue or topic (what <c>IBus.SendAsync</c> and <c>PublishAsync</c> do outside a handler).
    /// The default hands it to <see cref="SendAsync(IReadOnlyList{OutgoingMessage}, CancellationToken)"/> as a list of
    /// one; a transport that sends one message natively overrides it and saves the list and the
    /// <see cref="OutgoingMessage"/> (the in-memory transport does). A transport that wraps another needs nothing here:
    /// the default reaches the inner transport through the list.
    /// </summary>
    /// <param name="destination">The queue or topic.</param>
    /// <param name="message">Headers and body.</param>
    /// <param name="visibleAt">Earliest delivery time, or null for now (as <see cref="OutgoingMessage.VisibleAt"/>).</param>
    /// <param name="cancellationToken">Cancels the send.</param>
    Task SendAsync(Destination destination, TransportMessage message, DateTimeOffset? visibleAt, CancellationToken cancellationToken) =>
        SendAsync([new OutgoingMessage(destination, message, visibleAt)], cancellationToken);

    /// <summary>
    /// Receives up to <paramref name="maxMessages"/> messages from <paramref name="queue"/>, each under a lease of
    /// <paramref name="leaseDuration"/> (or the entity's fixed lease). Waits (long-polls) a transport-defined time and
    /// returns an empty list when nothing arrived.
    /// </summary>
    ValueTask<IReadOnlyList<IReceivedMessage>> ReceiveAsync(
        string queue, int maxMessages, TimeSpan leaseDuration, CancellationToken cancellationToken);
}

namespace Bus;

/// <summary>
/// Sends commands and publishes events. Inside a handler, messages sent through any <see cref="IBus"/> inherit the
/// handled message's correlation id and sticky headers, name it as their cause, and go out only when the handler
/// succeeds (a failed attempt sends nothing).
/// </summary>
public interface IBus
{
    /// <summary>Sends a command to the one endpoint that owns it (its route, or this endpoint when it handles it).</summary>
    Task SendAsync<TCommand>(TCommand command, DeliveryOptions? options = null, CancellationToken cancellationToken = default)
        where TCommand : class;

    /// <summary>Publishes an event to every subscribing endpoint.</summary>
    Task PublishAsync<TEvent>(TEvent @event, DeliveryOptions? options = null, CancellationToken cancellationToken = default)
        where TEvent : class;
}

/// <summary>How to deliver one message: delay, headers, correlation.</summary>
public sealed class DeliveryOptions
{
    private Dictionary<string, string>? _headers;
    private Dictionary<string, string>? _sticky;

    /// <summary>Deliver no earlier than this long from now. Cannot be combined with <see cref="DeliverAt"/>.</summary>
    public TimeSpan? Delay { get; init; }

    /// <summary>Deliver no earlier than this time. Cannot be combined with <see cref="Delay"/>.</summary>
    public DateTimeOffset? DeliverAt { get; init; }

    /// <summary>The correlation id; when null it is inherited from the message being handled, else a new one.</summary>
    public string? CorrelationId { get; init; }

    /// <summary>The message id; a new one when null. Use a deterministic id to make a send idempotent downstream.</summary>
    public string? MessageId { get; init; }

    /// <summary>Send to this endpoint instead of the command's route (commands only).</summary>
    public string? Destination { get; init; }

    /// <summary>Inside a handler: send this message when the attempt ends whatever its outcome, even when the handler
    /// fails, is dead-lettered (<see cref="IMessageContext.FailAsync"/>) or released, e.g. a compensation event published
    /// before failing. Other sends of a failed attempt are dropped. A retried handler sends it again on each attempt
    /// (use a deterministic <see cref="MessageId"/> to make it idempotent downstream). Outside a handler it changes
    /// nothing. Default false.</summary>
    public bool EvenIfHandlerFails { get; init; }

    /// <summary>The lowest priority, and the default of a type without <see cref="MessagePriorityAttribute"/>: 0.</summary>
    public const int MinPriority = 0;

    /// <summary>The highest priority: 9.</summary>
    public const int MaxPriority = 9;

    /// <summary>
    /// The message's priority, <see cref="MinPriority"/> (0) to <see cref="MaxPriority"/> (9): among the messages of a
    /// queue that are due, a higher priority is delivered sooner; equal priorities keep their order. Null (default): the
    /// type's <see cref="MessagePriorityAttribute"/>, else 0. A delay is unaffected: a message is not delivered before it
    /// is due, whatever its priority. In-memory, SQLite and PostgreSQL order natively; SQS and Service Bus send messages
    /// above 0 to the queue's priority queue, which receivers drain first in a ratio that never starves the normal
    /// queue (<see cref="Transports.TransportCapabilities.PriorityOrdering"/>). A value outside 0 to 9 makes the send
    /// throw.
    /// </summary>
    public int? Priority { get; init; }

    /// <summary>Headers (message attributes) for this message only.</summary>
    public IDictionary<string, string> Headers => _headers ??= new(StringComparer.Ordinal);

    /// <summary>Headers that ride along on this message and on everything sent while handling it, transitively.</summary>
    public IDictionary<string, string> StickyHeaders => _sticky ??= new(StringComparer.Ordinal);

    internal IReadOnlyDictionary<string, string>? HeadersOrNull => _headers;

    internal IReadOnlyDictionary<string, string>? StickyOrNull => _sticky;
}

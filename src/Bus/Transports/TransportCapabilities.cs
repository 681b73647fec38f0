namespace Bus.Transports;

/// <summary>
/// What a transport can do. The pipeline adapts to these (e.g. re-delaying in hops past <see cref="MaxDelay"/>),
/// and a strict profile turns a missing capability into a start-up error.
/// </summary>
public sealed record TransportCapabilities
{
    /// <summary>The transport's name for messages and logs, e.g. "in-memory" or "amazon-sqs".</summary>
    public required string Name { get; init; }

    /// <summary>Whether a lease can be renewed (heartbeats) while a handler runs.</summary>
    public required bool CanRenewLease { get; init; }

    /// <summary>The longest single lease (or renewal) the transport grants.</summary>
    public required TimeSpan MaxLeaseDuration { get; init; }

    /// <summary>The longest total time a message can be held from its receive, or null when unbounded
    /// (SQS: 12 hours of total visibility).</summary>
    public TimeSpan? MaxTotalLeaseTime { get; init; }

    /// <summary>Whether the lease duration is fixed by the entity (Service Bus LockDuration) rather than chosen per
    /// receive or renewal.</summary>
    public bool LeaseDurationIsFixed { get; init; }

    /// <summary>The longest delay a single send or abandon can carry; longer waits are made in hops.</summary>
    public required TimeSpan MaxDelay { get; init; }

    /// <summary>Whether the transport counts an attempt when the bus starts a delivery's handlers
    /// (<see cref="IReceivedMessage.BeginAttemptAsync"/>) rather than when the message is received. True for in-memory
    /// and SQLite: a prefetched message whose worker is killed before it starts keeps its attempt, so the bus prefetches
    /// (<c>BusConfiguration.Prefetch</c>) only on such transports. False where the broker counts every receive itself
    /// (SQS ApproximateReceiveCount, Service Bus DeliveryCount): there the bus receives only as many messages as it has
    /// free workers to start, so a killed worker costs an attempt only to the messages whose handlers were running.</summary>
    public bool CountsAttemptsAtStart { get; init; }

    /// <summary>Whether messages that crash their process repeatedly reach a native dead-letter queue.</summary>
    public bool NativeDeadLetter { get; init; }

    /// <summary>Whether topics with subscriptions (fan-out) are supported.</summary>
    public required bool PublishSubscribe { get; init; }

    /// <summary>Whether dead letters can be moved back to their queue.</summary>
    public required bool Redrive { get; init; }

    /// <summary>Whether endpoints on several machines share the transport's queues (SQS, Service Bus, a database
    /// server), so that state kept in one host's memory (in-memory workflow and step stores) is not seen by the others.
    /// Strict start-up then refuses in-memory stores unless the bus allows them. False for in-memory and SQLite (one
    /// machine).</summary>
    public bool SharedBetweenHosts { get; init; }

    /// <summary>How the transport honours <see cref="DeliveryOptions.Priority"/>. Default
    /// <see cref="Transports.PriorityOrdering.None"/>: strict start-up then refuses message types with a default priority, and a
    /// send with a priority throws (with <c>Strict = false</c> the priority travels as a header and is ignored).</summary>
    public PriorityOrdering PriorityOrdering { get; init; }

    /// <summary>The largest body plus headers the transport accepts, in bytes, or null when unbounded.</summary>
    public long? MaxMessageSize { get; init; }
}

/// <summary>How a transport orders messages by <see cref="DeliveryOptions.Priority"/>.</summary>
public enum PriorityOrdering
{
    /// <summary>It does not: messages are delivered in their queue's order whatever their priority.</summary>
    None,

    /// <summary>Strictly: of the due messages of a queue, a higher priority is always delivered first (in-memory,
    /// SQLite, PostgreSQL).</summary>
    Native,

    /// <summary>Through a second queue per endpoint: messages above priority 0 go to it, and receivers take from it first
    /// in a ratio that never starves the normal queue (SQS, Service Bus). Within the priority queue, 1 to 9 are not
    /// ordered among themselves.</summary>
    PriorityQueue,
}

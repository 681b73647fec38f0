namespace Bus.Transports;

/// <summary>
/// How many messages a transport holds per queue, from the transport's own counts (table counts, SQS queue attributes,
/// Service Bus runtime properties). A transport offers it through <see cref="ITransport.Statistics"/>; applications get
/// it from dependency injection. The figures are a snapshot: brokers count approximately (SQS) and messages move on.
/// </summary>
public interface IQueueStatistics
{
    /// <summary>The endpoint queues the transport knows (provisioned, or holding messages or dead letters), in name
    /// order. These are logical names, as passed to <see cref="GetAsync"/> and <see cref="IDeadLetterQueue"/>.</summary>
    Task<IReadOnlyList<string>> ListQueuesAsync(CancellationToken cancellationToken);

    /// <summary>The counts of <paramref name="queue"/>. A queue that does not exist reports zeros.</summary>
    Task<QueueStatistics> GetAsync(string queue, CancellationToken cancellationToken);
}

/// <summary>The counts of one queue at one moment. A figure the transport cannot tell is null (see the transport's
/// documentation: Service Bus does not count locked messages apart from ready ones; SQS has no age of the oldest
/// message outside CloudWatch).</summary>
/// <param name="Queue">The queue's logical name.</param>
/// <param name="Ready">Messages that can be received now.</param>
/// <param name="InFlight">Messages received and held under a lease (not yet settled); null when the transport counts them
/// with <paramref name="Ready"/>.</param>
/// <param name="Delayed">Messages hidden until a later time (delayed sends, retries and releases with a delay).</param>
/// <param name="DeadLettered">Dead letters of the queue.</param>
/// <param name="OldestMessageAge">Time since the oldest message now ready or in flight was sent to the queue (delayed
/// messages not yet due are left out); null when there is none or the transport cannot tell.</param>
/// <param name="ObservedAt">When the counts were read.</param>
public sealed record QueueStatistics(
    string Queue,
    long Ready,
    long? InFlight,
    long? Delayed,
    long DeadLettered,
    TimeSpan? OldestMessageAge,
    DateTimeOffset ObservedAt);

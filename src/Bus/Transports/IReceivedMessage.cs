namespace Bus.Transports;

/// <summary>
/// One delivery of a message under a lease (visibility timeout, peek-lock, row lease). Exactly one of
/// <see cref="CompleteAsync"/>, <see cref="AbandonAsync"/>, <see cref="ReleaseAsync"/> or
/// <see cref="DeadLetterAsync"/> settles it. Any member throws <see cref="LeaseLostException"/> when the lease has
/// been lost, after which the message belongs to someone else and must not be settled again.
/// </summary>
public interface IReceivedMessage
{
    /// <summary>Headers and body as received. Always carries <see cref="MessageHeaders.MessageId"/>: for a foreign
    /// payload without bus headers (e.g. an EventBridge event) the transport fills it from the broker's message id.</summary>
    TransportMessage Message { get; }

    /// <summary>The logical queue it was received from.</summary>
    string Queue { get; }

    /// <summary>How many deliveries of this message counted as attempts, this one included (1 on the first).
    /// Releases (<see cref="ReleaseAsync"/>) do not count.</summary>
    int ReceiveCount { get; }

    /// <summary>When the current lease ends unless renewed.</summary>
    DateTimeOffset LeaseExpiresAt { get; }

    /// <summary>Extends the lease to <paramref name="duration"/> from now and returns the new expiry.</summary>
    /// <exception cref="LeaseLostException">The message was received by someone else since (its lease expired and it was
    /// redelivered), was settled, or is gone. A lease that expired but was not taken over may still be renewed where the
    /// broker allows it (in-memory, SQLite, SQS); Service Bus refuses it.</exception>
    Task<DateTimeOffset> RenewLeaseAsync(TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>Removes the message: it was handled.</summary>
    Task CompleteAsync(CancellationToken cancellationToken);

    /// <summary>Gives the message back for another attempt after <paramref name="delay"/>. Counts as an attempt.</summary>
    Task AbandonAsync(TimeSpan delay, CancellationToken cancellationToken);

    /// <summary>Gives the message back after <paramref name="delay"/> without counting this delivery as an attempt
    /// (checkpoints, time windows, shutdown, delay hops).</summary>
    Task ReleaseAsync(TimeSpan delay, CancellationToken cancellationToken);

    /// <summary>Moves the message to its queue's dead-letter queue with the failure details, body and headers kept.</summary>
    Task DeadLetterAsync(FailureDetails failure, CancellationToken cancellationToken);
}

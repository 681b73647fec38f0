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

    /// <summary>Which attempt this delivery is: the attempts counted before it, plus one (1 on the first). Releases
    /// (<see cref="ReleaseAsync"/>) do not count. On a transport that counts at receive (SQS, Service Bus) the broker
    /// has counted this delivery already; on one that counts at start
    /// (<see cref="TransportCapabilities.CountsAttemptsAtStart"/>) it is stored only by <see cref="BeginAttemptAsync"/>.</summary>
    int ReceiveCount { get; }

    /// <summary>When the current lease ends unless renewed.</summary>
    DateTimeOffset LeaseExpiresAt { get; }

    /// <summary>Extends the lease to <paramref name="duration"/> from now and returns the new expiry.</summary>
    /// <exception cref="LeaseLostException">The message was received by someone else since (its lease expired and it was
    /// redelivered), was settled, or is gone. A lease that expired but was not taken over may still be renewed where the
    /// broker allows it (in-memory, SQLite, SQS); Service Bus refuses it.</exception>
    Task<DateTimeOffset> RenewLeaseAsync(TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>
    /// The bus is about to run the message's handlers: this delivery now counts as attempt <see cref="ReceiveCount"/>.
    /// Called at most once per delivery, after the steps that may release the message without an attempt (delay hops,
    /// time windows) and before any handler runs. A transport that counts attempts at start
    /// (<see cref="TransportCapabilities.CountsAttemptsAtStart"/>) stores the count here, so a delivery that is never
    /// started (its worker was killed while it waited in the prefetch buffer, or its lease ran out first) costs no
    /// attempt. After it, <see cref="AbandonAsync"/> and <see cref="DeadLetterAsync"/> keep the count and
    /// <see cref="ReleaseAsync"/> takes it back; without it, <see cref="AbandonAsync"/> still counts the attempt.
    /// The default does nothing: the broker counted at receive. A decorator of another transport's deliveries must
    /// forward it.
    /// </summary>
    /// <exception cref="LeaseLostException">The message was received by someone else since, or was settled.</exception>
    ValueTask BeginAttemptAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

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

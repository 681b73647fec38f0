using System.Globalization;
using Bus.AmazonSqs.Sending;
using Bus.AmazonSqs.Topology;
using Bus.Transports;

namespace Bus.AmazonSqs.Receiving;

/// <summary>
/// One delivery of an SQS message: the lock context holding its receipt handle. Renewals and abandons change the
/// visibility timeout, completion deletes it; release and dead-lettering send a copy (to the queue, or its dead-letter
/// queue) and then delete the original, after confirming the lease so that a lost lease never produces a copy.
/// </summary>
internal sealed class SqsReceivedMessage : IReceivedMessage
{
    /// <summary>SQS caps the total visibility of a received message at 12 hours from its receive.</summary>
    public static readonly TimeSpan MaxTotalVisibility = TimeSpan.FromHours(12);

    private static readonly TimeSpan SettleLease = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ExpiryMargin = TimeSpan.FromSeconds(1);

    private readonly QueueInfo _queue;
    private readonly string _receiptHandle;
    private readonly DateTimeOffset _receivedAt;
    private readonly LeaseOperations _leases;
    private readonly MessageSender _sender;
    private readonly SqsTopology _topology;
    private readonly TimeProvider _time;

    public SqsReceivedMessage(
        TransportMessage message, string logicalQueue, QueueInfo queue, string receiptHandle, int receiveCount,
        DateTimeOffset receivedAt, TimeSpan lease, LeaseOperations leases, MessageSender sender, SqsTopology topology, TimeProvider time)
    {
        Message = message;
        Queue = logicalQueue;
        ReceiveCount = receiveCount;
        _queue = queue;
        _receiptHandle = receiptHandle;
        _receivedAt = receivedAt;
        LeaseExpiresAt = receivedAt + lease;
        _leases = leases;
        _sender = sender;
        _topology = topology;
        _time = time;
    }

    public TransportMessage Message { get; }

    public string Queue { get; }

    public int ReceiveCount { get; }

    public DateTimeOffset LeaseExpiresAt { get; private set; }

    private string Id => Message.MessageId ?? "?";

    private DateTimeOffset VisibilityCap => _receivedAt + MaxTotalVisibility;

    public async Task<DateTimeOffset> RenewLeaseAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero);
        var now = _time.GetUtcNow();
        var seconds = Seconds(duration);
        var expiry = now + TimeSpan.FromSeconds(seconds);
        if (expiry > VisibilityCap)
        {
            throw new InvalidOperationException(
                $"Cannot renew the lease on message '{Id}' in SQS queue '{_queue.Name}' to {expiry:O}: SQS allows at most 12 hours of " +
                $"total visibility from the receive, which ends at {VisibilityCap:O}. Settle or release the message before then.");
        }

        await ChangeVisibilityAsync(seconds, cancellationToken).ConfigureAwait(false);
        LeaseExpiresAt = expiry;
        return expiry;
    }

    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        if (_time.GetUtcNow() >= LeaseExpiresAt - ExpiryMargin)
        {
            // DeleteMessage succeeds silently for stale handles: confirm we still hold the message first.
            await ConfirmLeaseAsync(cancellationToken).ConfigureAwait(false);
        }

        await DeleteAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task AbandonAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        var left = Math.Max(0, Math.Floor((VisibilityCap - _time.GetUtcNow()).TotalSeconds));
        var seconds = (int)Math.Clamp(Math.Ceiling(Math.Max(0, delay.TotalSeconds)), 0, Math.Min(left, 43_200));
        return ChangeVisibilityAsync(seconds, cancellationToken);
    }

    public async Task ReleaseAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        await ConfirmLeaseAsync(cancellationToken).ConfigureAwait(false);
        var copy = Message.WithHeaders([new(MessageHeaders.PriorAttempts, Math.Max(0, ReceiveCount - 1).ToString(CultureInfo.InvariantCulture))]);
        var delaySeconds = (int)Math.Clamp(Math.Ceiling(Math.Max(0, delay.TotalSeconds)), 0, 900);
        await _sender.SendToQueueAsync(_queue, [new QueuedSend(copy, delaySeconds)], cancellationToken).ConfigureAwait(false);
        await DeleteAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task DeadLetterAsync(FailureDetails failure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(failure);
        await ConfirmLeaseAsync(cancellationToken).ConfigureAwait(false);
        var dlq = await _topology.FindDeadLetterQueueAsync(Queue, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"SQS queue '{_queue.Name}' has no dead-letter queue '{_topology.Names.DeadLetterQueue(Queue)}'; the message stays in its queue.");
        var deadLetter = failure.AddTo(Message);
        if (MessageSizeLimit.SizeOf(deadLetter) > _sender.LimitOf(dlq) - 512)
        {
            // Keep the message whole; give up the stack trace (and, if needed, the exception message) instead.
            deadLetter = (failure with { StackTrace = null }).AddTo(Message);
            if (MessageSizeLimit.SizeOf(deadLetter) > _sender.LimitOf(dlq) - 512)
            {
                deadLetter = (failure with { StackTrace = null, ExceptionMessage = Truncate(failure.ExceptionMessage, 256) }).AddTo(Message);
            }
        }

        await _sender.SendToQueueAsync(dlq, [new QueuedSend(deadLetter, 0)], cancellationToken).ConfigureAwait(false);
        await DeleteAsync(cancellationToken).ConfigureAwait(false);
    }

    private Task ConfirmLeaseAsync(CancellationToken cancellationToken)
    {
        var left = Math.Floor((VisibilityCap - _time.GetUtcNow()).TotalSeconds);
        return ChangeVisibilityAsync((int)Math.Clamp(left, 0, SettleLease.TotalSeconds), cancellationToken);
    }

    private Task ChangeVisibilityAsync(int seconds, CancellationToken cancellationToken) =>
        _leases.ChangeVisibilityAsync(_queue.Url, new ReceiptOperation(_receiptHandle, seconds, Id, _queue.Name), cancellationToken);

    private Task DeleteAsync(CancellationToken cancellationToken) =>
        _leases.DeleteAsync(_queue.Url, new ReceiptOperation(_receiptHandle, 0, Id, _queue.Name), cancellationToken);

    private static int Seconds(TimeSpan duration) => (int)Math.Clamp(Math.Ceiling(duration.TotalSeconds), 1, 43_200);

    private static string? Truncate(string? value, int max) => value is { Length: > 0 } && value.Length > max ? value[..max] : value;
}

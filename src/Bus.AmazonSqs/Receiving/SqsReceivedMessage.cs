using System.Globalization;
using Bus.AmazonSqs.Messages;
using Bus.AmazonSqs.Sending;
using Bus.AmazonSqs.Topology;
using Bus.Transports;

namespace Bus.AmazonSqs.Receiving;

/// <summary>
/// One delivery of an SQS message: the lock context holding its receipt handle. Renewals and abandons change the
/// visibility timeout, completion deletes it; release and dead-lettering send a copy (to the queue, or its dead-letter
/// queue) and then delete the original, after confirming the lease so that a lost lease never produces a copy.
/// Renewals are shared per queue (<see cref="SharedRenewals"/>): a renewal that the queue's last round already covered
/// costs no request.
/// </summary>
internal sealed class SqsReceivedMessage : IReceivedMessage
{
    /// <summary>SQS caps the total visibility of a received message at 12 hours from its receive.</summary>
    public static readonly TimeSpan MaxTotalVisibility = TimeSpan.FromHours(12);

    private static readonly TimeSpan SettleLease = TimeSpan.FromSeconds(60);

    /// <summary>A delete is confirmed first when the lease ends this soon (a delete of a stale handle succeeds silently).</summary>
    private static readonly TimeSpan ExpiryMargin = TimeSpan.FromSeconds(2);

    private readonly QueueInfo _queue;
    private readonly string _receiptHandle;
    private readonly DateTimeOffset _receivedAt;
    private readonly LeaseOperations _leases;
    private readonly SharedRenewals _renewals;
    private readonly MessageSender _sender;
    private readonly SqsTopology _topology;
    private readonly TimeProvider _time;
    private long _leaseExpiresAtTicks;
    private RenewalAsk? _lastAsk;
    private PendingRenewal? _pending; // the latest renewal sent (its own, or along with another message's)

    public SqsReceivedMessage(
        TransportMessage message, string logicalQueue, QueueInfo queue, string receiptHandle, int receiveCount,
        DateTimeOffset receivedAt, TimeSpan lease, LeaseOperations leases, SharedRenewals renewals, MessageSender sender, SqsTopology topology, TimeProvider time)
    {
        Message = message;
        Queue = logicalQueue;
        ReceiveCount = receiveCount;
        _queue = queue;
        _receiptHandle = receiptHandle;
        _receivedAt = receivedAt;
        _leaseExpiresAtTicks = (receivedAt + lease).UtcTicks;
        _leases = leases;
        _renewals = renewals;
        _sender = sender;
        _topology = topology;
        _time = time;
    }

    public TransportMessage Message { get; }

    public string Queue { get; }

    public int ReceiveCount { get; }

    public DateTimeOffset LeaseExpiresAt => new(Interlocked.Read(ref _leaseExpiresAtTicks), TimeSpan.Zero);

    /// <summary>The queue URL, which the shared renewals group by.</summary>
    internal string QueueUrl => _queue.Url;

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

        var ask = new RenewalAsk(now, TimeSpan.FromSeconds(seconds));
        if (_lastAsk is null)
        {
            _renewals.Hold(this); // from its first renewal on: most messages are settled before one
        }

        _lastAsk = ask;
        if (SharedRenewals.CoveredAlready(LeaseExpiresAt, ask))
        {
            return LeaseExpiresAt;
        }

        if (_pending is { Along: true } along && SharedRenewals.CoveredAlready(along.Expiry, ask))
        {
            // A renewal along with another message's is on its way and covers this one: its answer is this answer.
            try
            {
                await along.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                return LeaseExpiresAt;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // renew on its own below
            }
        }

        var renewal = ChangeVisibilityAsync(seconds, cancellationToken);
        _pending = new PendingRenewal(renewal, expiry, Along: false);
        _renewals.RenewOthersDue(this, now);
        try
        {
            await renewal.ConfigureAwait(false);
        }
        catch (LeaseLostException)
        {
            Leave(); // it will not be settled
            throw;
        }

        RaiseLeaseTo(expiry);
        return LeaseExpiresAt;
    }

    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        Leave();
        if (_time.GetUtcNow() >= LeaseExpiresAt - ExpiryMargin)
        {
            // DeleteMessage succeeds silently for stale handles: confirm we still hold the message first.
            await ConfirmLeaseAsync(cancellationToken).ConfigureAwait(false);
        }

        _leases.Delete(_queue.Url, Operation(0));
    }

    public Task AbandonAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        Leave();
        var left = Math.Max(0, Math.Floor((VisibilityCap - _time.GetUtcNow()).TotalSeconds));
        var seconds = (int)Math.Clamp(Math.Ceiling(Math.Max(0, delay.TotalSeconds)), 0, Math.Min(left, 43_200));
        return ChangeVisibilityAsync(seconds, cancellationToken);
    }

    public async Task ReleaseAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        Leave();
        await ConfirmLeaseAsync(cancellationToken).ConfigureAwait(false);
        var copy = Message.WithHeaders([new(MessageHeaders.PriorAttempts, Math.Max(0, ReceiveCount - 1).ToString(CultureInfo.InvariantCulture))]);
        var delaySeconds = (int)Math.Clamp(Math.Ceiling(Math.Max(0, delay.TotalSeconds)), 0, 900);
        await _sender.SendToQueueAsync(_queue, [new QueuedSend(copy, delaySeconds)], cancellationToken).ConfigureAwait(false);
        await _leases.DeleteAsync(_queue.Url, Operation(0), cancellationToken).ConfigureAwait(false);
    }

    public async Task DeadLetterAsync(FailureDetails failure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(failure);
        Leave();
        await ConfirmLeaseAsync(cancellationToken).ConfigureAwait(false);
        var dlq = await _topology.FindDeadLetterQueueAsync(Queue, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"SQS queue '{_queue.Name}' has no dead-letter queue '{_topology.Names.DeadLetterQueue(Queue)}'; the message stays in its queue.");

        // The message must land whole, with at least its reason: the failure details give way instead.
        var limit = _sender.LimitOf(dlq);
        var fitted = failure.FitTo(Message, limit, MessageSender.SizeOnWire)
            ?? throw new MessageTooLargeException(Message.MessageId, MessageSender.SizeOnWire(Message), limit,
                $"Amazon SQS dead-letter queue '{dlq.Name}' (no room left for even the failure reason; the message stays in its queue " +
                "until the queue's RedrivePolicy moves it)");
        await _sender.SendToQueueAsync(dlq, [new QueuedSend(fitted.AddTo(Message), 0)], cancellationToken).ConfigureAwait(false);
        await _leases.DeleteAsync(_queue.Url, Operation(0), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether the queue's renewal round may renew this message along with another's: its handler still asks
    /// for renewals and its lease has used up a tenth of what it last asked for.</summary>
    internal bool IsDueAlong(DateTimeOffset now) =>
        _lastAsk is { } ask
        && SharedRenewals.IsDue(_pending is { } pending && pending.Expiry > LeaseExpiresAt ? pending.Expiry : LeaseExpiresAt, ask, now)
        && now + ask.Duration <= VisibilityCap;

    /// <summary>Whether its handler stopped asking for renewals a whole lease ago.</summary>
    internal bool IsForgotten(DateTimeOffset now) => _lastAsk is not { } ask || now - ask.At > ask.Duration;

    /// <summary>Renews this message's lease by what it last asked for, along with another message's renewal. A failure
    /// is left to the message's own next heartbeat.</summary>
    internal void RenewAlong(DateTimeOffset now)
    {
        if (_lastAsk is not { } ask)
        {
            return;
        }

        var expiry = now + ask.Duration;
        var renewal = ChangeVisibilityAsync(Seconds(ask.Duration), CancellationToken.None);
        _pending = new PendingRenewal(renewal, expiry, Along: true);
        _ = renewal.ContinueWith(
            (task, state) =>
            {
                if (task.IsCompletedSuccessfully)
                {
                    ((SqsReceivedMessage)state!).RaiseLeaseTo(expiry);
                }
                else
                {
                    _ = task.Exception; // observed: the message's own next heartbeat renews it
                }
            },
            this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void RaiseLeaseTo(DateTimeOffset expiry)
    {
        var ticks = expiry.UtcTicks;
        long current;
        do
        {
            current = Interlocked.Read(ref _leaseExpiresAtTicks);
            if (current >= ticks)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _leaseExpiresAtTicks, ticks, current) != current);
    }

    /// <summary>The message is being settled: no more renewals along with others.</summary>
    private void Leave()
    {
        _lastAsk = null;
        _renewals.Leave(this);
    }

    private Task ConfirmLeaseAsync(CancellationToken cancellationToken)
    {
        var left = Math.Floor((VisibilityCap - _time.GetUtcNow()).TotalSeconds);
        return ChangeVisibilityAsync((int)Math.Clamp(left, 0, SettleLease.TotalSeconds), cancellationToken);
    }

    private Task ChangeVisibilityAsync(int seconds, CancellationToken cancellationToken) =>
        _leases.ChangeVisibilityAsync(_queue.Url, Operation(seconds), cancellationToken);

    private ReceiptOperation Operation(int visibility) => new(_receiptHandle, visibility, Id, _queue.Name);

    private static int Seconds(TimeSpan duration) => (int)Math.Clamp(Math.Ceiling(duration.TotalSeconds), 1, 43_200);

    /// <summary>A renewal sent, the expiry it asked for, and whether it went along with another message's.</summary>
    private sealed record PendingRenewal(Task Task, DateTimeOffset Expiry, bool Along);
}

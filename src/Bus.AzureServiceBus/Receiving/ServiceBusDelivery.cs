using System.Transactions;
using Azure.Messaging.ServiceBus;
using Bus.AzureServiceBus.DeadLetters;
using Bus.AzureServiceBus.Messages;
using Bus.Transports;

namespace Bus.AzureServiceBus.Receiving;

/// <summary>
/// One peek-locked delivery. Complete completes it; an immediate retry abandons it (its DeliveryCount grows); a dead
/// letter goes to the queue's dead-letter sub-queue natively with the reason, description and <c>bus-failure-*</c>
/// properties. A delayed retry or a release sends a copy (new broker MessageId, scheduled) and completes the original in
/// one transaction, so a crash leaves one or the other, never both or neither (on Basic, which has no transactions, the
/// copy is sent first). A lost lock is reported as <see cref="LeaseLostException"/>, after which nothing settles it.
/// </summary>
internal sealed class ServiceBusDelivery : IReceivedMessage
{
    private readonly ServiceBusReceiver _receiver;
    private readonly ServiceBusSender _sender;
    private readonly ServiceBusReceivedMessage _received;
    private readonly TimeProvider _time;
    private readonly bool _transactions;
    private readonly long _maxMessageBytes;
    private readonly int _prior;
    private int _state; // 0 held, 1 settling or settled, 2 lock lost

    public ServiceBusDelivery(
        ServiceBusReceiver receiver, ServiceBusSender sender, ServiceBusReceivedMessage received, string queue, TimeProvider time,
        bool transactions, long maxMessageBytes)
    {
        _receiver = receiver;
        _sender = sender;
        _received = received;
        _time = time;
        _transactions = transactions;
        _maxMessageBytes = maxMessageBytes;
        Queue = queue;
        (Message, _prior) = MessageMapping.FromServiceBus(received);
        ReceiveCount = Math.Max(1, received.DeliveryCount) + _prior;
    }

    public TransportMessage Message { get; }

    public string Queue { get; }

    public int ReceiveCount { get; }

    public DateTimeOffset LeaseExpiresAt => _received.LockedUntil;

    /// <summary>Service Bus renews for the entity's LockDuration whatever <paramref name="duration"/> says; the new
    /// expiry is the one the broker returned.</summary>
    public async Task<DateTimeOffset> RenewLeaseAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero);
        switch (Volatile.Read(ref _state))
        {
            case 2:
                throw LockLost(null);
            case 1:
                return _received.LockedUntil; // being settled: the settle call holds the lock from here
        }

        await GuardAsync(() => _receiver.RenewMessageLockAsync(_received, cancellationToken)).ConfigureAwait(false);
        return _received.LockedUntil;
    }

    public Task CompleteAsync(CancellationToken cancellationToken)
    {
        BeginSettling();
        return GuardAsync(() => _receiver.CompleteMessageAsync(_received, cancellationToken));
    }

    public Task AbandonAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        BeginSettling();
        return delay <= TimeSpan.Zero
            ? GuardAsync(() => _receiver.AbandonMessageAsync(_received, null, cancellationToken))
            : ReplaceWithCopyAsync(_time.GetUtcNow() + delay, ReceiveCount, cancellationToken);
    }

    public Task ReleaseAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        BeginSettling();
        return ReplaceWithCopyAsync(delay > TimeSpan.Zero ? _time.GetUtcNow() + delay : null, ReceiveCount - 1, cancellationToken);
    }

    public Task DeadLetterAsync(FailureDetails failure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(failure);
        BeginSettling();
        var body = _received.Body.ToMemory().Length;
        var dead = DeadLetterProperties.For(failure, body, MessageMapping.SizeOf(_received) - body, _maxMessageBytes);
        return GuardAsync(() => _receiver.DeadLetterMessageAsync(
            _received, new Dictionary<string, object>(dead.Properties), dead.Reason, dead.Description, cancellationToken));
    }

    /// <summary>Sends a copy of the message (a new broker id; the bus id travels in its properties) that continues the
    /// attempt count from <paramref name="priorAttempts"/>, and completes the original, in one transaction.</summary>
    private async Task ReplaceWithCopyAsync(DateTimeOffset? visibleAt, int priorAttempts, CancellationToken cancellationToken)
    {
        var copy = MessageMapping.Copy(Message, visibleAt, priorAttempts);
        if (!_transactions)
        {
            await GuardAsync(() => _sender.SendMessageAsync(copy, cancellationToken)).ConfigureAwait(false);
            await GuardAsync(() => _receiver.CompleteMessageAsync(_received, CancellationToken.None)).ConfigureAwait(false);
            return;
        }

        await GuardAsync(async () =>
        {
            using var scope = new TransactionScope(TransactionScopeOption.RequiresNew, TransactionScopeAsyncFlowOption.Enabled);
            await _sender.SendMessageAsync(copy, cancellationToken).ConfigureAwait(false);
            await _receiver.CompleteMessageAsync(_received, cancellationToken).ConfigureAwait(false);
            scope.Complete();
        }).ConfigureAwait(false);
    }

    private void BeginSettling()
    {
        switch (Interlocked.CompareExchange(ref _state, 1, 0))
        {
            case 0:
                return;
            case 2:
                throw LockLost(null);
            default:
                throw new InvalidOperationException(
                    $"Message '{Message.MessageId}' from '{Queue}' is already settled; settle a delivery once (complete, abandon, release or dead-letter).");
        }
    }

    /// <summary>Runs a broker call; a lost lock becomes <see cref="LeaseLostException"/> and nothing settles the message after.</summary>
    private async Task GuardAsync(Func<Task> call)
    {
        try
        {
            await call().ConfigureAwait(false);
        }
        catch (ServiceBusException e) when (e.Reason is ServiceBusFailureReason.MessageLockLost)
        {
            Volatile.Write(ref _state, 2);
            throw LockLost(e);
        }
        catch (TransactionAbortedException e) when (e.InnerException is ServiceBusException { Reason: ServiceBusFailureReason.MessageLockLost } lost)
        {
            Volatile.Write(ref _state, 2);
            throw LockLost(lost);
        }
    }

    private LeaseLostException LockLost(Exception? inner) => new(
        $"The lock on message '{Message.MessageId}' from '{Queue}' was lost (it expired or the message was received again); " +
        "it was not settled here and will be delivered again.", inner);
}

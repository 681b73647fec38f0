using Bus.AzureServiceBus.Rest;
using Bus.Transports;

namespace Bus.AzureServiceBus.Receiving;

/// <summary>
/// One peek-locked delivery. Complete deletes it, a plain abandon unlocks it. Service Bus over REST cannot delay an
/// abandon nor dead-letter, so those send a copy first (scheduled, or to the error queue) and then complete the
/// original: a failure in between leaves a duplicate, never a lost message. The copy carries
/// <see cref="MessageHeaders.PriorAttempts"/> so its receive count continues where this one left off.
/// </summary>
internal sealed class ServiceBusReceivedMessage : IReceivedMessage
{
    private readonly IServiceBusRestClient _client;
    private readonly LockedBrokerMessage _locked;
    private readonly string _entity;
    private readonly string _errorEntity;
    private readonly TimeProvider _time;
    private readonly TimeSpan _lockDuration;
    private DateTimeOffset _expiresAt;
    private int _settled;

    public ServiceBusReceivedMessage(
        IServiceBusRestClient client, LockedBrokerMessage locked, string queue, string entity, string errorEntity, TimeSpan lockDuration, TimeProvider time)
    {
        _lockDuration = lockDuration;
        _client = client;
        _locked = locked;
        _entity = entity;
        _errorEntity = errorEntity;
        _time = time;
        _expiresAt = locked.LockedUntil;
        Queue = queue;
        (Message, var prior) = BrokerMessageMapping.FromBroker(locked);
        ReceiveCount = Math.Max(1, locked.DeliveryCount) + prior;
    }

    public TransportMessage Message { get; }

    public string Queue { get; }

    public int ReceiveCount { get; }

    public DateTimeOffset LeaseExpiresAt => _expiresAt;

    /// <summary>Service Bus renews for the entity's LockDuration whatever <paramref name="duration"/> says.</summary>
    public async Task<DateTimeOffset> RenewLeaseAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero);
        return await RenewAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        BeginSettling();
        await _client.CompleteAsync(_locked, cancellationToken).ConfigureAwait(false);
    }

    public async Task AbandonAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        BeginSettling();
        if (delay <= TimeSpan.Zero)
        {
            await _client.UnlockAsync(_locked, cancellationToken).ConfigureAwait(false);
            return;
        }

        await ReplaceWithCopyAsync(_entity, Message, _time.GetUtcNow() + delay, ReceiveCount, cancellationToken).ConfigureAwait(false);
    }

    public Task ReleaseAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        BeginSettling();
        DateTimeOffset? visibleAt = delay > TimeSpan.Zero ? _time.GetUtcNow() + delay : null;
        return ReplaceWithCopyAsync(_entity, Message, visibleAt, ReceiveCount - 1, cancellationToken);
    }

    public Task DeadLetterAsync(FailureDetails failure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(failure);
        BeginSettling();
        return ReplaceWithCopyAsync(_errorEntity, failure.AddTo(Message), null, 0, cancellationToken);
    }

    private async Task ReplaceWithCopyAsync(
        string entity, TransportMessage copy, DateTimeOffset? visibleAt, int priorAttempts, CancellationToken cancellationToken)
    {
        // Renewing first proves the lock is still ours (else LeaseLostException, and no copy is made) and leaves a full
        // lock period for the send and the complete.
        await RenewAsync(cancellationToken).ConfigureAwait(false);
        await _client.SendAsync(entity, [BrokerMessageMapping.ToBroker(copy, visibleAt, priorAttempts)], cancellationToken).ConfigureAwait(false);
        await _client.CompleteAsync(_locked, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>The lock runs LockDuration from when the broker renewed it, which is no earlier than when the request
    /// left: that local lower bound is exact where the broker's LockedUntilUtc has whole seconds only. The broker's
    /// value (plus its truncated second) still caps it, in case the entity's LockDuration is shorter than configured.</summary>
    private async Task<DateTimeOffset> RenewAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetUtcNow();
        var brokerUntil = await _client.RenewLockAsync(_locked, cancellationToken).ConfigureAwait(false);
        var local = started + _lockDuration;
        var capped = brokerUntil + TimeSpan.FromSeconds(1);
        _expiresAt = local < capped ? local : capped;
        return _expiresAt;
    }

    private void BeginSettling()
    {
        if (Interlocked.Exchange(ref _settled, 1) == 1)
        {
            throw new InvalidOperationException($"Message '{Message.MessageId}' from '{Queue}' has already been settled.");
        }
    }
}

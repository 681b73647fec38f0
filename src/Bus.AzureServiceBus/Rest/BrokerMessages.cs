namespace Bus.AzureServiceBus.Rest;

/// <summary>A message to hand to the broker.</summary>
/// <param name="Body">The payload bytes.</param>
/// <param name="MessageId">The broker message id (the bus message id).</param>
/// <param name="CorrelationId">The broker correlation id.</param>
/// <param name="ScheduledEnqueueTime">When the broker should make it visible, or null for now.</param>
/// <param name="Properties">Custom properties (string values).</param>
internal sealed record OutgoingBrokerMessage(
    ReadOnlyMemory<byte> Body,
    string? MessageId,
    string? CorrelationId,
    DateTimeOffset? ScheduledEnqueueTime,
    IReadOnlyDictionary<string, string> Properties);

/// <summary>A message received under a peek-lock.</summary>
/// <param name="Body">The payload bytes.</param>
/// <param name="Properties">Custom properties turned into strings.</param>
/// <param name="MessageId">The broker message id.</param>
/// <param name="DeliveryCount">Deliveries so far, this one included.</param>
/// <param name="SequenceNumber">The broker's sequence number.</param>
/// <param name="LockedUntil">When the lock expires.</param>
/// <param name="EnqueuedTime">When the broker enqueued it.</param>
/// <param name="LockUri">The lock's address: complete, unlock and renew go there.</param>
internal sealed record LockedBrokerMessage(
    ReadOnlyMemory<byte> Body,
    IReadOnlyDictionary<string, string> Properties,
    string? MessageId,
    int DeliveryCount,
    long SequenceNumber,
    DateTimeOffset LockedUntil,
    DateTimeOffset? EnqueuedTime,
    Uri LockUri);

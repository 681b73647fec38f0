using System.Reflection;
using System.Text;
using System.Transactions;
using Azure.Messaging.ServiceBus;
using Azure.Messaging.ServiceBus.Administration;
using Bus.Testing;

namespace Bus.AzureServiceBus.Tests.Fake;

/// <summary>
/// An in-process Service Bus namespace on a <see cref="TimeProvider"/>, reached through the SDK's own test seams
/// (<see cref="FakeServiceBusClient"/>, <see cref="FakeServiceBusAdministrationClient"/>). It models peek-lock with lock
/// expiry and lock tokens, delivery counts, MaxDeliveryCount moving a message to the dead-letter sub-queue, scheduled
/// messages, topics forwarding into queues, duplicate detection, size limits (entity, 32 KB per property, 64 KB of
/// properties), the tiers, and transactions: operations under an ambient <see cref="Transaction"/> are checked when made
/// and applied together when it commits, or not at all.
/// </summary>
public sealed class FakeServiceBus
{
    public const string Namespace = "fake.servicebus.windows.net";

    private static readonly PropertyInfo LockedUntil = typeof(ServiceBusReceivedMessage).GetProperty(nameof(ServiceBusReceivedMessage.LockedUntil))!;

    private readonly object _gate = new();
    private readonly Dictionary<string, Queue> _queues = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, Topic> _topics = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<Call> _calls = [];
    private readonly Dictionary<string, Enlistment> _transactions = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _sequence;

    public FakeServiceBus(TimeProvider time, MessagingSku? sku = null)
    {
        Time = time;
        Sku = sku ?? MessagingSku.Standard;
    }

    public TimeProvider Time { get; }

    public MessagingSku Sku { get; }

    /// <summary>How long each data operation takes: on a <see cref="ManualTimeProvider"/> the fake moves the clock by it, as
    /// a round trip to a real namespace lets time pass (so a renewal right after a receive lands later).</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>Called with the operation and entity before each data operation is applied; a test may throw from it.</summary>
    public Action<string, string>? BeforeOperation { get; set; }

    /// <summary>Messages dropped by duplicate detection.</summary>
    public int DuplicatesDropped { get; private set; }

    /// <summary>Every data operation: name, entity, when.</summary>
    public IReadOnlyList<Call> Calls
    {
        get
        {
            lock (_gate)
            {
                return [.. _calls];
            }
        }
    }

    public int StandardMessageKilobytes => 256;

    /// <summary>The messages in a queue (active, scheduled or locked).</summary>
    public IReadOnlyList<Stored> MessagesIn(string queue, bool deadLetters = false)
    {
        lock (_gate)
        {
            Sweep();
            return _queues.TryGetValue(queue, out var q) ? [.. (deadLetters ? q.DeadLetters : q.Messages)] : [];
        }
    }

    /// <summary>A queue's settings.</summary>
    public QueueSettings? QueueSettingsOf(string queue)
    {
        lock (_gate)
        {
            return _queues.TryGetValue(queue, out var q) ? q.Settings : null;
        }
    }

    /// <summary>A topic's subscriptions.</summary>
    public IReadOnlyList<SubscriptionSettings> SubscriptionsOf(string topic)
    {
        lock (_gate)
        {
            return _topics.TryGetValue(topic, out var t) ? [.. t.Subscriptions.Values] : [];
        }
    }

    // ---- management ------------------------------------------------------------------------------------------------

    internal QueueSettings GetQueue(string name)
    {
        lock (_gate)
        {
            return _queues.TryGetValue(name, out var q) ? q.Settings with { } : throw NotFound(name);
        }
    }

    internal QueueSettings CreateQueue(QueueSettings settings)
    {
        lock (_gate)
        {
            if (_queues.ContainsKey(settings.Name) || _topics.ContainsKey(settings.Name))
            {
                throw new ServiceBusException($"Entity '{settings.Name}' already exists.", ServiceBusFailureReason.MessagingEntityAlreadyExists, settings.Name);
            }

            var stored = CheckSettings(settings);
            _queues[settings.Name] = new Queue(stored);
            return stored with { };
        }
    }

    internal QueueSettings UpdateQueue(QueueSettings settings)
    {
        lock (_gate)
        {
            if (!_queues.TryGetValue(settings.Name, out var q))
            {
                throw NotFound(settings.Name);
            }

            q.Settings = CheckSettings(settings);
            return q.Settings with { };
        }
    }

    internal bool DeleteQueue(string name)
    {
        lock (_gate)
        {
            return _queues.Remove(name);
        }
    }

    internal TopicSettings GetTopic(string name)
    {
        lock (_gate)
        {
            return _topics.TryGetValue(name, out var t) ? t.Settings with { } : throw NotFound(name);
        }
    }

    internal TopicSettings CreateTopic(TopicSettings settings)
    {
        lock (_gate)
        {
            if (Sku == MessagingSku.Basic)
            {
                throw new ServiceBusException("Topics are not available on the Basic tier.", ServiceBusFailureReason.GeneralError, settings.Name);
            }

            if (_topics.ContainsKey(settings.Name) || _queues.ContainsKey(settings.Name))
            {
                throw new ServiceBusException($"Entity '{settings.Name}' already exists.", ServiceBusFailureReason.MessagingEntityAlreadyExists, settings.Name);
            }

            var kilobytes = MessageKilobytes(settings.MaxMessageSizeInKilobytes, settings.Name);
            var stored = settings with { MaxMessageSizeInKilobytes = kilobytes };
            _topics[settings.Name] = new Topic(stored);
            return stored with { };
        }
    }

    internal SubscriptionSettings GetSubscription(string topic, string name)
    {
        lock (_gate)
        {
            return _topics.TryGetValue(topic, out var t) && t.Subscriptions.TryGetValue(name, out var s) ? s with { } : throw NotFound($"{topic}/subscriptions/{name}");
        }
    }

    internal SubscriptionSettings CreateSubscription(SubscriptionSettings settings, bool update)
    {
        lock (_gate)
        {
            if (!_topics.TryGetValue(settings.Topic, out var topic))
            {
                throw NotFound(settings.Topic);
            }

            if (update != topic.Subscriptions.ContainsKey(settings.Name))
            {
                throw update
                    ? NotFound($"{settings.Topic}/subscriptions/{settings.Name}")
                    : new ServiceBusException($"Subscription '{settings.Name}' already exists.", ServiceBusFailureReason.MessagingEntityAlreadyExists, settings.Topic);
            }

            var forward = settings.ForwardTo;
            if (!string.IsNullOrEmpty(forward))
            {
                var target = forward.TrimEnd('/')[(forward.TrimEnd('/').LastIndexOf('/') + 1)..];
                if (!_queues.ContainsKey(target))
                {
                    throw new ServiceBusException($"ForwardTo target '{target}' does not exist.", ServiceBusFailureReason.MessagingEntityNotFound, target);
                }

                forward = $"sb://{Namespace}/{target}"; // the service answers with the full address
            }

            var stored = settings with { ForwardTo = forward };
            topic.Subscriptions[settings.Name] = stored;
            return stored with { };
        }
    }

    // ---- messaging -------------------------------------------------------------------------------------------------

    internal void Send(string entity, IReadOnlyList<ServiceBusMessage> messages)
    {
        Pass();
        var copies = messages.Select(Snapshot).ToList();
        lock (_gate)
        {
            Record("Send", entity);
            if (!_queues.TryGetValue(entity, out var queue) && !_topics.ContainsKey(entity))
            {
                throw NotFound(entity);
            }

            var limit = (queue?.Settings.MaxMessageSizeInKilobytes ?? _topics[entity].Settings.MaxMessageSizeInKilobytes ?? 256) * 1024;
            foreach (var copy in copies)
            {
                CheckSize(entity, copy.Body.ToMemory().Length, copy.Properties, limit);
            }
        }

        Apply("Send", entity, () => { }, () =>
        {
            foreach (var copy in copies)
            {
                Enqueue(entity, copy);
            }
        });
    }

    internal async Task<IReadOnlyList<ServiceBusReceivedMessage>> ReceiveAsync(
        string queue, bool deadLetters, int max, TimeSpan? wait, CancellationToken cancellationToken)
    {
        Pass();
        var deadline = Time.GetUtcNow() + (wait ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            Task changed;
            TimeSpan until;
            lock (_gate)
            {
                Record(deadLetters ? "ReceiveDeadLetters" : "Receive", queue);
                var q = _queues.TryGetValue(queue, out var found) ? found : throw NotFound(queue);
                Sweep();
                var now = Time.GetUtcNow();
                var source = deadLetters ? q.DeadLetters : q.Messages;
                var taken = source.Where(m => m.LockToken is null && (m.ScheduledAt is null || m.ScheduledAt <= now)).Take(max).ToList();
                if (taken.Count > 0)
                {
                    return taken.Select(m =>
                    {
                        m.LockToken = Guid.NewGuid();
                        m.LockedUntil = now + q.Settings.LockDuration;
                        m.DeliveryCount++;
                        return ToReceived(m);
                    }).ToList();
                }

                if (now >= deadline)
                {
                    return [];
                }

                var next = deadline;
                foreach (var m in source)
                {
                    if (m.LockToken is not null && m.LockedUntil < next)
                    {
                        next = m.LockedUntil;
                    }

                    if (m.ScheduledAt is { } at && at > now && at < next)
                    {
                        next = at;
                    }
                }

                changed = _changed.Task;
                until = next - now;
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var timer = Task.Delay(until > TimeSpan.Zero ? until : TimeSpan.FromTicks(1), Time, stop.Token);
            await Task.WhenAny(changed, timer).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    internal IReadOnlyList<ServiceBusReceivedMessage> Peek(string queue, bool deadLetters, int max, long from)
    {
        lock (_gate)
        {
            Record(deadLetters ? "PeekDeadLetters" : "Peek", queue);
            var q = _queues.TryGetValue(queue, out var found) ? found : throw NotFound(queue);
            Sweep();
            var now = Time.GetUtcNow();
            return (deadLetters ? q.DeadLetters : q.Messages).Where(m => m.Sequence >= from).Take(max)
                .Select(m => ToReceived(m, m.ScheduledAt > now ? ServiceBusMessageState.Scheduled : ServiceBusMessageState.Active)).ToList();
        }
    }

    /// <summary>A queue's runtime counts as Service Bus reports them: active (locked ones included), scheduled, dead letters.</summary>
    internal (long Active, long Scheduled, long DeadLetters) Counts(string queue)
    {
        lock (_gate)
        {
            var q = _queues.TryGetValue(queue, out var found) ? found : throw NotFound(queue);
            Sweep();
            var now = Time.GetUtcNow();
            var scheduled = q.Messages.Count(m => m.ScheduledAt > now);
            return (q.Messages.Count - scheduled, scheduled, q.DeadLetters.Count);
        }
    }

    /// <summary>The names of the queues.</summary>
    internal IReadOnlyList<QueueSettings> Queues()
    {
        lock (_gate)
        {
            return [.. _queues.Values.Select(q => q.Settings with { })];
        }
    }

    internal void Complete(string queue, bool deadLetters, ServiceBusReceivedMessage received) =>
        Settle("Complete", queue, deadLetters, received, (q, stored) => (deadLetters ? q.DeadLetters : q.Messages).Remove(stored));

    internal void Abandon(string queue, bool deadLetters, ServiceBusReceivedMessage received, IDictionary<string, object>? properties) =>
        Settle("Abandon", queue, deadLetters, received, (q, stored) =>
        {
            Modify(stored, properties);
            Unlock(q, stored, deadLetters);
        });

    internal void DeadLetter(string queue, bool deadLetters, ServiceBusReceivedMessage received, IDictionary<string, object>? properties, string? reason, string? description)
    {
        if (deadLetters)
        {
            throw new InvalidOperationException("A message in the dead-letter sub-queue cannot be dead-lettered.");
        }

        lock (_gate)
        {
            var (q, stored) = Locked(queue, deadLetters, received);
            var added = new Dictionary<string, object>(stored.Properties);
            Merge(added, properties);
            if (reason is not null)
            {
                added[MessageMappingNames.DeadLetterReason] = reason;
            }

            if (description is not null)
            {
                added[MessageMappingNames.DeadLetterErrorDescription] = description;
            }

            CheckSize(queue, stored.Body.ToMemory().Length, added, (q.Settings.MaxMessageSizeInKilobytes ?? 256) * 1024);
        }

        Settle("DeadLetter", queue, deadLetters, received, (q, stored) =>
        {
            Modify(stored, properties);
            if (reason is not null)
            {
                stored.Properties[MessageMappingNames.DeadLetterReason] = reason;
            }

            if (description is not null)
            {
                stored.Properties[MessageMappingNames.DeadLetterErrorDescription] = description;
            }

            q.Messages.Remove(stored);
            stored.LockToken = null;
            q.DeadLetters.Add(stored);
        });
    }

    internal void Renew(string queue, bool deadLetters, ServiceBusReceivedMessage received)
    {
        Settle("RenewLock", queue, deadLetters, received, (q, stored) =>
        {
            stored.LockedUntil = Time.GetUtcNow() + q.Settings.LockDuration;
            LockedUntil.SetValue(received, stored.LockedUntil);
        });
    }

    /// <summary>Checks the lock now; applies <paramref name="apply"/> now, or at commit under an ambient transaction
    /// (checking the lock again then).</summary>
    private void Settle(string operation, string queue, bool deadLetters, ServiceBusReceivedMessage received, Action<Queue, Stored> apply)
    {
        Pass();
        lock (_gate)
        {
            Record(operation, queue);
            _ = Locked(queue, deadLetters, received);
        }

        Apply(operation, queue, () => Locked(queue, deadLetters, received), () =>
        {
            var (q, stored) = Locked(queue, deadLetters, received);
            apply(q, stored);
        });
    }

    /// <summary>Runs the operation now, or enlists it in the ambient transaction.</summary>
    private void Apply(string operation, string entity, Action check, Action apply)
    {
        BeforeOperation?.Invoke(operation, entity);
        if (Transaction.Current is { } transaction)
        {
            if (Sku == MessagingSku.Basic)
            {
                throw new ServiceBusException("Transactions are not supported on the Basic tier.", ServiceBusFailureReason.GeneralError, entity);
            }

            lock (_gate)
            {
                var id = transaction.TransactionInformation.LocalIdentifier;
                if (!_transactions.TryGetValue(id, out var enlistment))
                {
                    enlistment = new Enlistment(this, id);
                    _transactions[id] = enlistment;
                    transaction.EnlistVolatile(enlistment, EnlistmentOptions.None);
                }

                enlistment.Operations.Add((check, apply));
            }

            return;
        }

        lock (_gate)
        {
            apply();
            Signal();
        }
    }

    private (Queue Queue, Stored Stored) Locked(string queue, bool deadLetters, ServiceBusReceivedMessage received)
    {
        if (!_queues.TryGetValue(queue, out var q))
        {
            throw NotFound(queue);
        }

        Sweep();
        var stored = (deadLetters ? q.DeadLetters : q.Messages).FirstOrDefault(m => m.LockToken is { } token && token.ToString() == received.LockToken);
        return stored is null
            ? throw new ServiceBusException("The lock supplied is invalid: it expired, or the message was already removed from the queue.",
                ServiceBusFailureReason.MessageLockLost, queue)
            : (q, stored);
    }

    private void Enqueue(string entity, Stored copy)
    {
        if (_topics.TryGetValue(entity, out var topic))
        {
            foreach (var subscription in topic.Subscriptions.Values.Where(s => !string.IsNullOrEmpty(s.ForwardTo)))
            {
                var target = subscription.ForwardTo![(subscription.ForwardTo!.LastIndexOf('/') + 1)..];
                Enqueue(target, copy with { Properties = new Dictionary<string, object>(copy.Properties) });
            }

            return;
        }

        if (!_queues.TryGetValue(entity, out var queue))
        {
            return; // deleted meanwhile
        }

        var now = Time.GetUtcNow();
        if (queue.Settings.RequiresDuplicateDetection)
        {
            foreach (var old in queue.SeenIds.Where(s => now - s.Value > queue.Settings.DuplicateDetectionHistoryTimeWindow).Select(s => s.Key).ToList())
            {
                queue.SeenIds.Remove(old);
            }

            if (copy.MessageId is { } id && !queue.SeenIds.TryAdd(id, now))
            {
                DuplicatesDropped++;
                return;
            }
        }

        queue.Messages.Add(copy with
        {
            Properties = new Dictionary<string, object>(copy.Properties),
            Sequence = ++_sequence,
            EnqueuedAt = now,
            ScheduledAt = copy.ScheduledAt is { } at && at > now ? at : null,
        });
    }

    /// <summary>Ends expired locks: the message is available again, or dead-lettered once it used up its deliveries.</summary>
    private void Sweep()
    {
        var now = Time.GetUtcNow();
        foreach (var q in _queues.Values)
        {
            foreach (var m in q.Messages.Where(m => m.LockToken is not null && m.LockedUntil <= now).ToList())
            {
                Unlock(q, m, deadLetters: false);
            }

            foreach (var m in q.DeadLetters.Where(m => m.LockToken is not null && m.LockedUntil <= now))
            {
                m.LockToken = null;
            }
        }
    }

    private static void Unlock(Queue q, Stored stored, bool deadLetters)
    {
        stored.LockToken = null;
        if (!deadLetters && stored.DeliveryCount >= q.Settings.MaxDeliveryCount)
        {
            q.Messages.Remove(stored);
            stored.Properties[MessageMappingNames.DeadLetterReason] = "MaxDeliveryCountExceeded";
            stored.Properties[MessageMappingNames.DeadLetterErrorDescription] =
                $"Message could not be consumed after {q.Settings.MaxDeliveryCount} delivery attempts.";
            q.DeadLetters.Add(stored);
        }
    }

    private static void Modify(Stored stored, IDictionary<string, object>? properties) => Merge(stored.Properties, properties);

    private static void Merge(Dictionary<string, object> target, IDictionary<string, object>? properties)
    {
        if (properties is null)
        {
            return;
        }

        foreach (var (name, value) in properties)
        {
            target[name] = value;
        }
    }

    private static void CheckSize(string entity, long bodyBytes, IReadOnlyDictionary<string, object> properties, long limit)
    {
        long header = 0;
        foreach (var (name, value) in properties)
        {
            var bytes = Encoding.UTF8.GetByteCount(name) + Encoding.UTF8.GetByteCount(value?.ToString() ?? "");
            if (bytes > 32 * 1024)
            {
                throw new ServiceBusException($"Property '{name}' is {bytes} bytes, over the 32 KB limit of one property.",
                    ServiceBusFailureReason.MessageSizeExceeded, entity);
            }

            header += bytes;
        }

        if (header > 64 * 1024)
        {
            throw new ServiceBusException($"The properties take {header} bytes, over the 64 KB header limit.", ServiceBusFailureReason.MessageSizeExceeded, entity);
        }

        if (bodyBytes + header > limit)
        {
            throw new ServiceBusException($"The message is {bodyBytes + header} bytes, over the entity's {limit}-byte limit.",
                ServiceBusFailureReason.MessageSizeExceeded, entity);
        }
    }

    private QueueSettings CheckSettings(QueueSettings settings)
    {
        if (settings.LockDuration < TimeSpan.FromSeconds(5) || settings.LockDuration > TimeSpan.FromMinutes(5))
        {
            throw new ServiceBusException($"LockDuration {settings.LockDuration} is out of range.", ServiceBusFailureReason.GeneralError, settings.Name);
        }

        return settings with { MaxMessageSizeInKilobytes = MessageKilobytes(settings.MaxMessageSizeInKilobytes, settings.Name) };
    }

    private long MessageKilobytes(long? requested, string entity)
    {
        if (Sku != MessagingSku.Premium)
        {
            return requested is null or 256
                ? StandardMessageKilobytes
                : throw new ServiceBusException("MaxMessageSizeInKilobytes can only be set on Premium.", ServiceBusFailureReason.GeneralError, entity);
        }

        return requested ?? 1024;
    }

    private static Stored Snapshot(ServiceBusMessage message) => new()
    {
        Body = message.Body,
        MessageId = message.MessageId,
        CorrelationId = message.CorrelationId,
        ContentType = message.ContentType,
        Properties = new Dictionary<string, object>(message.ApplicationProperties),
        ScheduledAt = message.ScheduledEnqueueTime == default ? null : message.ScheduledEnqueueTime,
    };

    private static ServiceBusReceivedMessage ToReceived(Stored m) => ToReceived(m, ServiceBusMessageState.Active);

    private static ServiceBusReceivedMessage ToReceived(Stored m, ServiceBusMessageState state) => ServiceBusModelFactory.ServiceBusReceivedMessage(
        body: m.Body,
        messageId: m.MessageId,
        correlationId: m.CorrelationId,
        contentType: m.ContentType,
        properties: new Dictionary<string, object>(m.Properties),
        lockTokenGuid: m.LockToken ?? default,
        deliveryCount: m.DeliveryCount,
        lockedUntil: m.LockToken is null ? default : m.LockedUntil,
        sequenceNumber: m.Sequence,
        enqueuedTime: m.EnqueuedAt,
        scheduledEnqueueTime: m.ScheduledAt ?? default,
        serviceBusMessageState: state);

    private void Pass()
    {
        if (Latency > TimeSpan.Zero && Time is ManualTimeProvider manual)
        {
            manual.Advance(Latency);
        }
    }

    private void Record(string operation, string entity) => _calls.Add(new Call(operation, entity, Time.GetUtcNow()));

    private void Signal()
    {
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    private static ServiceBusException NotFound(string entity) =>
        new($"The messaging entity '{entity}' could not be found.", ServiceBusFailureReason.MessagingEntityNotFound, entity);

    /// <summary>A data operation the broker saw.</summary>
    public sealed record Call(string Operation, string Entity, DateTimeOffset At);

    /// <summary>A stored message.</summary>
    public sealed record Stored
    {
        public BinaryData Body { get; init; } = BinaryData.Empty;

        public string? MessageId { get; init; }

        public string? CorrelationId { get; init; }

        public string? ContentType { get; init; }

        public Dictionary<string, object> Properties { get; init; } = [];

        public long Sequence { get; init; }

        public DateTimeOffset EnqueuedAt { get; init; }

        public DateTimeOffset? ScheduledAt { get; init; }

        public int DeliveryCount { get; set; }

        public Guid? LockToken { get; set; }

        public DateTimeOffset LockedUntil { get; set; }
    }

    public sealed record QueueSettings(
        string Name,
        TimeSpan LockDuration,
        int MaxDeliveryCount,
        long MaxSizeInMegabytes,
        long? MaxMessageSizeInKilobytes,
        bool RequiresDuplicateDetection,
        TimeSpan DuplicateDetectionHistoryTimeWindow,
        bool RequiresSession = false,
        string? ForwardTo = null);

    public sealed record TopicSettings(string Name, long MaxSizeInMegabytes, long? MaxMessageSizeInKilobytes);

    public sealed record SubscriptionSettings(string Topic, string Name, TimeSpan LockDuration, int MaxDeliveryCount, string? ForwardTo, bool RequiresSession = false);

    private sealed class Queue(QueueSettings settings)
    {
        public QueueSettings Settings { get; set; } = settings;

        public List<Stored> Messages { get; } = [];

        public List<Stored> DeadLetters { get; } = [];

        public Dictionary<string, DateTimeOffset> SeenIds { get; } = new(StringComparer.Ordinal);
    }

    private sealed class Topic(TopicSettings settings)
    {
        public TopicSettings Settings { get; } = settings;

        public Dictionary<string, SubscriptionSettings> Subscriptions { get; } = new(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The operations of one transaction: all checked and applied under the broker's lock when it prepares.</summary>
    private sealed class Enlistment(FakeServiceBus broker, string id) : IEnlistmentNotification
    {
        public List<(Action Check, Action Apply)> Operations { get; } = [];

        public void Prepare(PreparingEnlistment preparingEnlistment)
        {
            lock (broker._gate)
            {
                broker._transactions.Remove(id);
                try
                {
                    foreach (var (check, _) in Operations)
                    {
                        check();
                    }
                }
                catch (Exception e)
                {
                    preparingEnlistment.ForceRollback(e);
                    return;
                }

                foreach (var (_, apply) in Operations)
                {
                    apply();
                }

                broker.Signal();
            }

            preparingEnlistment.Prepared();
        }

        public void Commit(System.Transactions.Enlistment enlistment) => enlistment.Done();

        public void Rollback(System.Transactions.Enlistment enlistment)
        {
            lock (broker._gate)
            {
                broker._transactions.Remove(id);
            }

            enlistment.Done();
        }

        public void InDoubt(System.Transactions.Enlistment enlistment) => enlistment.Done();
    }
}

/// <summary>The property names Service Bus gives dead letters.</summary>
internal static class MessageMappingNames
{
    public const string DeadLetterReason = "DeadLetterReason";

    public const string DeadLetterErrorDescription = "DeadLetterErrorDescription";
}

namespace Bus.Transports.InMemory;

/// <summary>One queue: ready messages in arrival order, delayed and leased messages ordered by when they become
/// visible, and the dead letters.</summary>
internal sealed class InMemoryQueue(string name, TimeProvider time)
{
    private readonly object _gate = new();
    private readonly ReadyQueue _ready = new();
    private readonly PriorityQueue<(Entry Entry, long Version), DateTimeOffset> _invisible = new();
    private readonly List<TransportMessage> _deadLetters = [];
    private TaskCompletionSource? _arrival;
    private long _sequence;
    private int _count;

    public string Name { get; } = name;

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    public int DeadLetterCount
    {
        get
        {
            lock (_gate)
            {
                return _deadLetters.Count;
            }
        }
    }

    public void Enqueue(TransportMessage message, DateTimeOffset? visibleAt, int priorAttempts = 0)
    {
        TaskCompletionSource? signal;
        lock (_gate)
        {
            var entry = new Entry(message, ++_sequence) { PriorAttempts = priorAttempts };
            _count++;
            var now = time.GetUtcNow();
            if (visibleAt is { } at && at > now)
            {
                MakeInvisible(entry, at);
            }
            else
            {
                _ready.AddLast(entry);
            }

            signal = TakeSignal();
        }

        signal?.TrySetResult();
    }

    /// <summary>Takes up to <paramref name="max"/> visible messages under a lease; none when none is visible. Arms
    /// nothing for waiting.</summary>
    public Lease[] TakeVisible(int max, TimeSpan leaseDuration)
    {
        lock (_gate)
        {
            return TakeLocked(max, leaseDuration, time.GetUtcNow());
        }
    }

    /// <summary>Takes up to <paramref name="max"/> visible messages under a lease. When there are none, returns a task
    /// that completes when a message arrives or is given back, and when the next delayed or leased message becomes
    /// visible (null when none waits), for the caller to arm a timer only when there is something to wait for.</summary>
    public (Lease[] Leases, Task Arrival, DateTimeOffset? NextVisibleAt) TryTake(int max, TimeSpan leaseDuration)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            var leases = TakeLocked(max, leaseDuration, now);
            if (leases.Length > 0)
            {
                return (leases, Task.CompletedTask, null);
            }

            // The signal exists only while someone waits, so an enqueue with no waiting receiver allocates nothing.
            var arrival = (_arrival ??= NewSignal()).Task;

            // An absolute time, not a wait: the clock may move before the caller arms its timer.
            return (leases, arrival, NextVisibleAt());
        }
    }

    public DateTimeOffset Renew(Entry entry, long token, TimeSpan duration)
    {
        lock (_gate)
        {
            EnsureHeld(entry, token);
            var expiry = time.GetUtcNow() + duration;
            MakeInvisible(entry, expiry);
            return expiry;
        }
    }

    public void Complete(Entry entry, long token)
    {
        lock (_gate)
        {
            EnsureHeld(entry, token);
            Remove(entry);
        }
    }

    public void Return(Entry entry, long token, TimeSpan delay, bool countAttempt)
    {
        TaskCompletionSource? signal;
        lock (_gate)
        {
            EnsureHeld(entry, token);
            entry.LeaseToken++; // the old lease is over
            if (!countAttempt)
            {
                entry.ReceiveCount--;
            }

            if (delay > TimeSpan.Zero)
            {
                MakeInvisible(entry, time.GetUtcNow() + delay);
            }
            else
            {
                entry.Version++;
                _ready.AddFirst(entry);
            }

            signal = TakeSignal();
        }

        signal?.TrySetResult();
    }

    public void DeadLetter(Entry entry, long token, TransportMessage deadLettered)
    {
        lock (_gate)
        {
            EnsureHeld(entry, token);
            Remove(entry);
            _deadLetters.Add(deadLettered);
        }
    }

    public List<TransportMessage> PeekDeadLetters(int max)
    {
        lock (_gate)
        {
            return _deadLetters.Take(max).ToList();
        }
    }

    public List<TransportMessage> TakeDeadLetters(IReadOnlyCollection<string>? ids)
    {
        lock (_gate)
        {
            var taken = _deadLetters.Where(m => ids is null || (m.MessageId is { } id && ids.Contains(id))).ToList();
            foreach (var message in taken)
            {
                _deadLetters.Remove(message);
            }

            return taken;
        }
    }

    private Lease[] TakeLocked(int max, TimeSpan leaseDuration, DateTimeOffset now)
    {
        PromoteDue(now);
        var count = Math.Min(max, _ready.Count);
        if (count == 0)
        {
            return [];
        }

        var leases = new Lease[count];
        var expiry = now + leaseDuration;
        for (var i = 0; i < count; i++)
        {
            _ready.TryTakeFirst(out var entry);
            entry.ReceiveCount++;
            entry.LeaseToken++;
            MakeInvisible(entry, expiry);
            leases[i] = new Lease(entry, entry.LeaseToken, expiry);
        }

        return leases;
    }

    private void EnsureHeld(Entry entry, long token)
    {
        if (entry.Removed || entry.LeaseToken != token)
        {
            throw new LeaseLostException(
                $"The lease on message '{entry.Message.MessageId}' in queue '{Name}' was lost: it expired and the message was received again, or it was already settled.");
        }
    }

    private void Remove(Entry entry)
    {
        entry.Removed = true;
        entry.Version++;
        entry.LeaseToken++;
        _ready.Withdraw(entry);
        _count--;
    }

    private void MakeInvisible(Entry entry, DateTimeOffset until)
    {
        _ready.Withdraw(entry);
        entry.Version++;
        _invisible.Enqueue((entry, entry.Version), until);
    }

    private void PromoteDue(DateTimeOffset now)
    {
        while (_invisible.TryPeek(out var item, out var at))
        {
            if (item.Entry.Version != item.Version)
            {
                _invisible.Dequeue(); // stale: the entry moved since
                continue;
            }

            if (at > now)
            {
                return;
            }

            _invisible.Dequeue();
            item.Entry.Version++;
            _ready.AddLast(item.Entry);
        }
    }

    private DateTimeOffset? NextVisibleAt()
    {
        while (_invisible.TryPeek(out var item, out var at))
        {
            if (item.Entry.Version == item.Version)
            {
                return at;
            }

            _invisible.Dequeue();
        }

        return null;
    }

    /// <summary>The signal of the waiting receivers, if any, to complete outside the lock; later waiters get a new one.</summary>
    private TaskCompletionSource? TakeSignal()
    {
        var signal = _arrival;
        _arrival = null;
        return signal;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal sealed class Entry(TransportMessage message, long sequence)
    {
        public TransportMessage Message { get; } = message;

        public long Sequence { get; } = sequence;

        public int ReceiveCount { get; set; }

        public int PriorAttempts { get; set; }

        public long LeaseToken { get; set; }

        public long Version { get; set; }

        public bool Removed { get; set; }

        /// <summary>Whether it waits among the ready entries (<see cref="ReadyQueue"/>).</summary>
        public bool IsReady { get; set; }

        /// <summary>Which of its slots in the <see cref="ReadyQueue"/> is the live one.</summary>
        public long ReadyStamp { get; set; }
    }

    internal readonly record struct Lease(Entry Entry, long Token, DateTimeOffset ExpiresAt);
}

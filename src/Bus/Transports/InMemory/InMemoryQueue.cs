namespace Bus.Transports.InMemory;

/// <summary>One queue: ready messages in arrival order, delayed and leased messages ordered by when they become
/// visible, the dead letters, and the receivers waiting in a long poll.</summary>
/// <remarks>
/// A waiting receiver is handed its messages by whoever makes them visible (a send, a release, the queue's timer), so
/// it does not poll again. The queue has one timer, armed for the earliest of the waiters' poll ends and, while anyone
/// waits, the next delayed or leased message's visibility: a long poll costs one promise, no timer or token source of
/// its own.
/// </remarks>
internal sealed class InMemoryQueue(string name, TimeProvider time)
{
    /// <summary>A poll with less than this left ends: real timers have whole-millisecond resolution.</summary>
    private static readonly TimeSpan PollEndSlack = TimeSpan.FromMilliseconds(1);
    private readonly object _gate = new();
    private readonly ReadyQueue _ready = new();
    private readonly PriorityQueue<(Entry Entry, long Version), DateTimeOffset> _invisible = new();
    private readonly List<TransportMessage> _deadLetters = [];
    private readonly List<Waiter> _waiters = [];
    private ITimer? _timer;
    private DateTimeOffset? _armedFor;
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
        Waiter? served;
        bool fire;
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

            served = ServeLocked(now);

            // A delayed message may become visible before a waiter's poll ends.
            fire = _waiters.Count > 0 && ArmLocked(now);
        }

        Complete(served);
        if (fire)
        {
            Fire();
        }
    }

    /// <summary>Takes up to <paramref name="max"/> visible messages under a lease of <paramref name="leaseDuration"/>.
    /// When none is visible, waits up to <paramref name="longPoll"/> for one (returning none then).</summary>
    public Task<IReadOnlyList<IReceivedMessage>> ReceiveAsync(int max, TimeSpan leaseDuration, TimeSpan longPoll, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<IReadOnlyList<IReceivedMessage>>(cancellationToken);
        }

        // Made before the first wait and outside the lock: a test clock may move, and fire timers, as a timer is made.
        if (Volatile.Read(ref _timer) is null)
        {
            var timer = time.CreateTimer(static state => ((InMemoryQueue)state!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            if (Interlocked.CompareExchange(ref _timer, timer, null) is not null)
            {
                timer.Dispose();
            }
        }

        Waiter waiter;
        bool fire;
        lock (_gate)
        {
            var now = time.GetUtcNow();
            var taken = TakeLocked(max, leaseDuration, now);
            if (taken.Length > 0)
            {
                // Under load most receives find messages at once: nothing is allocated for a wait.
                return Task.FromResult<IReadOnlyList<IReceivedMessage>>(taken);
            }

            waiter = new Waiter(this, max, leaseDuration, now + longPoll);
            _waiters.Add(waiter);
            fire = ArmLocked(now);
        }

        waiter.CancelWith(cancellationToken);
        if (fire)
        {
            Fire();
        }

        return waiter.Task;
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
        Waiter? served;
        bool fire;
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

            var now = time.GetUtcNow();
            served = ServeLocked(now);
            fire = _waiters.Count > 0 && ArmLocked(now);
        }

        Complete(served);
        if (fire)
        {
            Fire();
        }
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

    private IReceivedMessage[] TakeLocked(int max, TimeSpan leaseDuration, DateTimeOffset now)
    {
        PromoteDue(now);
        var count = Math.Min(max, _ready.Count);
        if (count == 0)
        {
            return [];
        }

        var taken = new IReceivedMessage[count];
        var expiry = now + leaseDuration;
        for (var i = 0; i < count; i++)
        {
            _ready.TryTakeFirst(out var entry);
            entry.ReceiveCount++;
            entry.LeaseToken++;
            MakeInvisible(entry, expiry);
            taken[i] = new Received(this, entry, entry.LeaseToken, expiry);
        }

        return taken;
    }

    /// <summary>Hands visible messages to the waiters, first come first served; returns the served ones, chained, to
    /// be completed outside the lock.</summary>
    private Waiter? ServeLocked(DateTimeOffset now)
    {
        Waiter? served = null;
        while (_waiters.Count > 0 && _ready.Count > 0)
        {
            var waiter = _waiters[0];
            _waiters.RemoveAt(0);
            waiter.Result = TakeLocked(waiter.Max, waiter.LeaseDuration, now);
            waiter.NextServed = served;
            served = waiter;
        }

        return served;
    }

    /// <summary>The queue's timer: makes due messages visible, hands them to waiters, ends the polls whose time is up
    /// and arms itself for what comes next.</summary>
    private void Fire()
    {
        while (true)
        {
            Waiter? served;
            bool again;
            lock (_gate)
            {
                _armedFor = null;
                var now = time.GetUtcNow();
                PromoteDue(now);
                served = ServeLocked(now);
                for (var i = _waiters.Count - 1; i >= 0; i--)
                {
                    var waiter = _waiters[i];
                    if (waiter.PollEndsAt - now < PollEndSlack)
                    {
                        _waiters.RemoveAt(i);
                        waiter.Result = [];
                        waiter.NextServed = served;
                        served = waiter;
                    }
                }

                again = ArmLocked(now);
            }

            Complete(served);
            if (!again)
            {
                return;
            }
        }
    }

    /// <summary>Arms the timer for the next thing a waiter waits for; returns true instead when it is due already,
    /// for the caller to fire outside the lock (a test clock fires a timer inline).</summary>
    private bool ArmLocked(DateTimeOffset now)
    {
        if (_waiters.Count == 0 || _timer is null)
        {
            return false; // a timer armed earlier may still fire: that finds nothing to do
        }

        var next = _waiters[0].PollEndsAt;
        for (var i = 1; i < _waiters.Count; i++)
        {
            if (_waiters[i].PollEndsAt < next)
            {
                next = _waiters[i].PollEndsAt;
            }
        }

        if (NextVisibleAt() is { } visible && visible < next)
        {
            next = visible;
        }

        if (next <= now)
        {
            return true;
        }

        if (_armedFor == next)
        {
            return false;
        }

        _armedFor = next;
        _timer.Change(next - now, Timeout.InfiniteTimeSpan);

        // The clock may have reached it while the timer was armed (a timer armed late fires late).
        return time.GetUtcNow() >= next;
    }

    private void Cancel(Waiter waiter)
    {
        bool removed;
        lock (_gate)
        {
            removed = _waiters.Remove(waiter);
        }

        if (removed)
        {
            waiter.Cancel();
        }
    }

    private static void Complete(Waiter? served)
    {
        while (served is not null)
        {
            var next = served.NextServed;
            served.NextServed = null;
            served.Finish();
            served = next;
        }
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

    /// <summary>A receiver waiting in a long poll: completed with the messages handed to it, with none when its poll
    /// ends, or cancelled with its token. Its continuation runs asynchronously, never on the sender's thread.</summary>
    private sealed class Waiter(InMemoryQueue queue, int max, TimeSpan leaseDuration, DateTimeOffset pollEndsAt)
        : TaskCompletionSource<IReadOnlyList<IReceivedMessage>>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        private CancellationToken _token;
        private CancellationTokenRegistration _registration;

        public int Max => max;

        public TimeSpan LeaseDuration => leaseDuration;

        public DateTimeOffset PollEndsAt => pollEndsAt;

        /// <summary>What it was handed (set under the queue's lock).</summary>
        public IReceivedMessage[]? Result { get; set; }

        /// <summary>The next waiter served in the same round (a chain, so serving allocates no list).</summary>
        public Waiter? NextServed { get; set; }

        public void CancelWith(CancellationToken cancellationToken)
        {
            if (!cancellationToken.CanBeCanceled)
            {
                return;
            }

            _token = cancellationToken;
            _registration = cancellationToken.UnsafeRegister(static state => ((Waiter)state!).Owner.Cancel((Waiter)state!), this);
            if (Task.IsCompleted)
            {
                _registration.Unregister(); // served before the registration was made
            }
        }

        public void Finish()
        {
            TrySetResult(Result!);
            _registration.Unregister();
        }

        public void Cancel() => TrySetCanceled(_token);

        private InMemoryQueue Owner => queue;
    }

    internal sealed class Received(InMemoryQueue queue, Entry entry, long token, DateTimeOffset expiresAt) : IReceivedMessage
    {
        private DateTimeOffset _expiresAt = expiresAt;

        public TransportMessage Message => entry.Message;

        public string Queue => queue.Name;

        public int ReceiveCount { get; } = entry.ReceiveCount + entry.PriorAttempts;

        public DateTimeOffset LeaseExpiresAt => _expiresAt;

        public Task<DateTimeOffset> RenewLeaseAsync(TimeSpan duration, CancellationToken cancellationToken)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero);
            _expiresAt = queue.Renew(entry, token, duration);
            return Task.FromResult(_expiresAt);
        }

        public Task CompleteAsync(CancellationToken cancellationToken)
        {
            queue.Complete(entry, token);
            return Task.CompletedTask;
        }

        public Task AbandonAsync(TimeSpan delay, CancellationToken cancellationToken)
        {
            queue.Return(entry, token, delay, countAttempt: true);
            return Task.CompletedTask;
        }

        public Task ReleaseAsync(TimeSpan delay, CancellationToken cancellationToken)
        {
            queue.Return(entry, token, delay, countAttempt: false);
            return Task.CompletedTask;
        }

        public Task DeadLetterAsync(FailureDetails failure, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(failure);
            queue.DeadLetter(entry, token, failure.AddTo(entry.Message));
            return Task.CompletedTask;
        }
    }
}

using System.Threading.Tasks.Sources;

namespace Bus.Transports.InMemory;

/// <summary>One queue: ready messages in arrival order, delayed and leased messages ordered by when they become
/// visible, the dead letters, and the receivers waiting in a long poll.</summary>
/// <remarks>
/// A waiting receiver is handed its messages by whoever makes them visible (a send, a release, the queue's timer), so
/// it does not poll again. The queue has one timer, armed for the earliest of the waiters' poll ends and, while anyone
/// waits, the next delayed or leased message's visibility. A long poll allocates nothing: its waiter is reused, and
/// it has no timer or token source of its own.
/// </remarks>
internal sealed class InMemoryQueue(string name, TimeProvider time)
{
    /// <summary>A poll with less than this left ends: real timers have whole-millisecond resolution.</summary>
    private static readonly TimeSpan PollEndSlack = TimeSpan.FromMilliseconds(1);

    /// <summary>Finished waiters kept for reuse: one per receive loop that polls this queue is plenty.</summary>
    private const int MaxSpareWaiters = 16;

    private readonly object _gate = new();
    private readonly ReadyQueue _ready = new();
    private readonly InvisibleEntries _invisible = new();
    private readonly List<TransportMessage> _deadLetters = [];
    private readonly List<Waiter> _waiters = [];
    private readonly Stack<Waiter> _spareWaiters = new(); // finished waits, for the next one to reuse
    private ITimer? _timer;
    private DateTimeOffset? _armedFor;
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
            _count++;

            // The clock is read only when something depends on it: a delay, or a receiver waiting for messages.
            DateTimeOffset? now = null;
            if (visibleAt is null && priorAttempts == 0)
            {
                _ready.AddFresh(message); // its entry is made when it is taken
            }
            else
            {
                var entry = new Entry(this, message) { PriorAttempts = priorAttempts };
                now = time.GetUtcNow();
                if (visibleAt is { } at && at > now)
                {
                    MakeInvisible(entry, at);
                }
                else
                {
                    _ready.AddLast(entry);
                }
            }

            if (_waiters.Count == 0)
            {
                served = null;
                fire = false;
            }
            else
            {
                now ??= time.GetUtcNow();
                served = ServeLocked(now.Value);

                // A delayed message may become visible before a waiter's poll ends.
                fire = _waiters.Count > 0 && ArmLocked(now.Value);
            }
        }

        Complete(served);
        if (fire)
        {
            Fire();
        }
    }

    /// <summary>Takes up to <paramref name="max"/> visible messages under a lease of <paramref name="leaseDuration"/>.
    /// When none is visible, waits up to <paramref name="longPoll"/> for one (returning none then).</summary>
    public ValueTask<IReadOnlyList<IReceivedMessage>> ReceiveAsync(int max, TimeSpan leaseDuration, TimeSpan longPoll, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<IReadOnlyList<IReceivedMessage>>(cancellationToken);
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
                return new ValueTask<IReadOnlyList<IReceivedMessage>>(taken);
            }

            waiter = _spareWaiters.TryPop(out var spare) ? spare : new Waiter(this);
            waiter.Prepare(max, leaseDuration, now + longPoll);
            _waiters.Add(waiter);
            fire = ArmLocked(now);
        }

        var wait = waiter.CancelWith(cancellationToken);
        if (fire)
        {
            Fire();
        }

        return wait;
    }

    /// <summary>Settles the delivery of <paramref name="entry"/> that holds lease <paramref name="token"/>.</summary>
    private Task Settle(Entry entry, long token, Settlement settlement, TimeSpan delay = default, FailureDetails? failure = null)
    {
        switch (settlement)
        {
            case Settlement.Complete:
                Complete(entry, token);
                break;
            case Settlement.Abandon:
                Return(entry, token, delay, countAttempt: true);
                break;
            case Settlement.Release:
                Return(entry, token, delay, countAttempt: false);
                break;
            default:
                ArgumentNullException.ThrowIfNull(failure);
                DeadLetter(entry, token, failure.AddTo(entry.Message));
                break;
        }

        return Task.CompletedTask;
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

    private void Complete(Entry entry, long token)
    {
        lock (_gate)
        {
            EnsureHeld(entry, token);
            Remove(entry);
        }
    }

    private void Return(Entry entry, long token, TimeSpan delay, bool countAttempt)
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
                _invisible.Leave(entry);
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

    private void DeadLetter(Entry entry, long token, TransportMessage deadLettered)
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
            _ready.TryTakeFirst(out var item);
            var entry = item as Entry ?? new Entry(this, (TransportMessage)item!);
            entry.ReceiveCount++;
            entry.LeaseToken++;
            MakeInvisible(entry, expiry);
            taken[i] = entry.LeaseToken == Entry.FirstLease ? entry.FirstDelivery(expiry) : new Received(this, entry, entry.LeaseToken, expiry);
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

        if (_invisible.NextAt() is { } visible && visible < next)
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

    /// <summary>Takes a cancelled waiter out of the line; false when it was served (or ended) first.</summary>
    private bool Withdraw(Waiter waiter)
    {
        lock (_gate)
        {
            return _waiters.Remove(waiter);
        }
    }

    /// <summary>A finished wait, back for reuse (its receiver has its result).</summary>
    private void Recycle(Waiter waiter)
    {
        lock (_gate)
        {
            if (_spareWaiters.Count < MaxSpareWaiters)
            {
                _spareWaiters.Push(waiter);
            }
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
        _invisible.Leave(entry);
        entry.Removed = true;
        entry.LeaseToken++;
        _ready.Withdraw(entry);
        _count--;
    }

    private void MakeInvisible(Entry entry, DateTimeOffset until)
    {
        _ready.Withdraw(entry);
        _invisible.Add(entry, until);
    }

    private void PromoteDue(DateTimeOffset now)
    {
        while (_invisible.TryTakeDue(now, out var entry))
        {
            _ready.AddLast(entry);
        }
    }

    /// <summary>A message in the queue, from its send until it is settled. It is also the handle of its first delivery
    /// (most messages have only one): later deliveries get a <see cref="Received"/> of their own.</summary>
    internal sealed class Entry(InMemoryQueue queue, TransportMessage message) : IReceivedMessage
    {
        /// <summary>The lease token of a message's first delivery.</summary>
        public const int FirstLease = 1;

        private long _firstExpiresAtTicks; // UTC

        public TransportMessage Message { get; } = message;

        /// <summary>Deliveries that counted as attempts so far.</summary>
        public int ReceiveCount { get; set; }

        public int PriorAttempts { get; set; }

        /// <summary>Which delivery's lease is the live one (a handle holding another is stale).</summary>
        public int LeaseToken { get; set; }

        /// <summary>Which of its records among the invisible ones is the live one (moved on by
        /// <see cref="InvisibleEntries"/>).</summary>
        public int Version { get; set; }

        public bool Removed { get; set; }

        /// <summary>Whether its current record is among the invisible ones (delayed or leased).</summary>
        public bool IsInvisible { get; set; }

        /// <summary>Whether it waits among the ready entries (<see cref="ReadyQueue"/>).</summary>
        public bool IsReady { get; set; }

        /// <summary>Which of its slots in the <see cref="ReadyQueue"/> is the live one.</summary>
        public long ReadyStamp { get; set; }

        string IReceivedMessage.Queue => queue.Name;

        int IReceivedMessage.ReceiveCount => 1 + PriorAttempts;

        DateTimeOffset IReceivedMessage.LeaseExpiresAt => new(Volatile.Read(ref _firstExpiresAtTicks), TimeSpan.Zero);

        /// <summary>Its first delivery, leased until <paramref name="expiresAt"/> (under the queue's lock).</summary>
        public IReceivedMessage FirstDelivery(DateTimeOffset expiresAt)
        {
            _firstExpiresAtTicks = expiresAt.UtcTicks;
            return this;
        }

        Task<DateTimeOffset> IReceivedMessage.RenewLeaseAsync(TimeSpan duration, CancellationToken cancellationToken)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero);
            var expiry = queue.Renew(this, FirstLease, duration);
            Volatile.Write(ref _firstExpiresAtTicks, expiry.UtcTicks);
            return Task.FromResult(expiry);
        }

        Task IReceivedMessage.CompleteAsync(CancellationToken cancellationToken) => queue.Settle(this, FirstLease, Settlement.Complete);

        Task IReceivedMessage.AbandonAsync(TimeSpan delay, CancellationToken cancellationToken) => queue.Settle(this, FirstLease, Settlement.Abandon, delay);

        Task IReceivedMessage.ReleaseAsync(TimeSpan delay, CancellationToken cancellationToken) => queue.Settle(this, FirstLease, Settlement.Release, delay);

        Task IReceivedMessage.DeadLetterAsync(FailureDetails failure, CancellationToken cancellationToken) =>
            queue.Settle(this, FirstLease, Settlement.DeadLetter, failure: failure);
    }

    /// <summary>
    /// A receiver waiting in a long poll: completed with the messages handed to it, with none when its poll ends, or
    /// cancelled with its token. Its continuation runs asynchronously, never on the sender's thread. Once its receiver
    /// has the result it goes back to the queue for the next wait, so a long poll allocates nothing.
    /// </summary>
    private sealed class Waiter(InMemoryQueue queue) : IValueTaskSource<IReadOnlyList<IReceivedMessage>>
    {
        private ManualResetValueTaskSourceCore<IReadOnlyList<IReceivedMessage>> _core = new() { RunContinuationsAsynchronously = true };
        private CancellationToken _token;
        private CancellationTokenRegistration _registration;
        private int _completed; // 1 once served, ended or cancelled: exactly one of them completes a wait

        public int Max { get; private set; }

        public TimeSpan LeaseDuration { get; private set; }

        public DateTimeOffset PollEndsAt { get; private set; }

        /// <summary>What it was handed (set under the queue's lock).</summary>
        public IReceivedMessage[]? Result { get; set; }

        /// <summary>The next waiter served in the same round (a chain, so serving allocates no list).</summary>
        public Waiter? NextServed { get; set; }

        /// <summary>Sets up a new wait (under the queue's lock).</summary>
        public void Prepare(int max, TimeSpan leaseDuration, DateTimeOffset pollEndsAt)
        {
            Max = max;
            LeaseDuration = leaseDuration;
            PollEndsAt = pollEndsAt;
        }

        /// <summary>Registers for cancellation and returns the wait.</summary>
        public ValueTask<IReadOnlyList<IReceivedMessage>> CancelWith(CancellationToken cancellationToken)
        {
            var wait = new ValueTask<IReadOnlyList<IReceivedMessage>>(this, _core.Version);
            if (cancellationToken.CanBeCanceled)
            {
                _token = cancellationToken;
                _registration = cancellationToken.UnsafeRegister(static state => ((Waiter)state!).OnCancelled(), this);
            }

            return wait;
        }

        public void Finish()
        {
            if (Interlocked.Exchange(ref _completed, 1) == 0)
            {
                _core.SetResult(Result!);
            }
        }

        public IReadOnlyList<IReceivedMessage> GetResult(short token)
        {
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                // Dispose waits for a cancellation callback that is running, so none can reach the next wait.
                _registration.Dispose();
                _registration = default;
                _token = default;
                Result = null;
                _core.Reset();
                Volatile.Write(ref _completed, 0);
                queue.Recycle(this);
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        private void OnCancelled()
        {
            if (queue.Withdraw(this) && Interlocked.Exchange(ref _completed, 1) == 0)
            {
                _core.SetException(new OperationCanceledException(_token));
            }
        }
    }

    /// <summary>A delivery after the first (the first one's handle is its <see cref="Entry"/>).</summary>
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

        public Task CompleteAsync(CancellationToken cancellationToken) => queue.Settle(entry, token, Settlement.Complete);

        public Task AbandonAsync(TimeSpan delay, CancellationToken cancellationToken) => queue.Settle(entry, token, Settlement.Abandon, delay);

        public Task ReleaseAsync(TimeSpan delay, CancellationToken cancellationToken) => queue.Settle(entry, token, Settlement.Release, delay);

        public Task DeadLetterAsync(FailureDetails failure, CancellationToken cancellationToken) =>
            queue.Settle(entry, token, Settlement.DeadLetter, failure: failure);
    }

    /// <summary>How a delivery is settled.</summary>
    private enum Settlement
    {
        Complete,
        Abandon,
        Release,
        DeadLetter,
    }
}

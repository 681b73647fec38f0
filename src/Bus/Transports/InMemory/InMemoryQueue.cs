using System.Threading.Tasks.Sources;

namespace Bus.Transports.InMemory;

/// <summary>
/// One queue, kept as plainly as a broker's queue can be. Every message in it is an <see cref="Entry"/> that is either
/// <b>ready</b> (in <see cref="_ready"/>: one list per priority, each in arrival order; a receive takes from the highest
/// priority first) or <b>hidden</b> until a time (in <see cref="_hidden"/>):
/// a delayed send, a delayed retry, or a delivery under lease. A lease is nothing more than "hidden until the lease
/// ends": when it ends unsettled, the message becomes ready again and the next receive gets it. An attempt is counted
/// when the bus starts the delivery's handlers (<see cref="IReceivedMessage.BeginAttemptAsync"/>), not at receive, so a
/// delivery never started costs none. Each delivery carries the lease number it was given; settling with an older number throws
/// <see cref="LeaseLostException"/>. Settled messages leave the queue; dead-lettered ones go to the queue's dead letters.
/// </summary>
/// <remarks>
/// One lock guards everything. A receive that finds nothing waits (a long poll) as a <see cref="Waiter"/>; whoever
/// makes a message ready (a send, a release, the queue's timer) hands it to the oldest waiter. The queue's single timer
/// is armed, while anyone waits, for the earliest of the waiters' poll ends and the next hidden message's time. The
/// timer and the clock come from the broker's <see cref="TimeProvider"/>, so tests move time instead of sleeping.
/// </remarks>
internal sealed class InMemoryQueue(string name, TimeProvider time)
{
    private readonly object _gate = new();
    private readonly LinkedList<Entry>[] _ready = NewReadyLists(); // index = priority
    private readonly HashSet<Entry> _hidden = [];
    private readonly List<Entry> _due = []; // scratch list for PromoteDueLocked
    private readonly List<TransportMessage> _deadLetters = [];
    private readonly List<Waiter> _waiters = []; // oldest first
    private readonly Stack<Waiter> _idleWaiters = new(); // finished waiters whose result was read, for the next long poll
    private DateTimeOffset _noneHiddenBefore = DateTimeOffset.MaxValue; // no hidden entry becomes ready before this
    private ITimer? _timer;
    private DateTimeOffset? _timerDueAt;

    public string Name { get; } = name;

    /// <summary>Messages waiting or in flight.</summary>
    public int Count => Locked(q => q.ReadyCountLocked() + q._hidden.Count);

    public int DeadLetterCount => Locked(q => q._deadLetters.Count);

    /// <summary>Adds a message, ready at once or hidden until <paramref name="visibleAt"/>.</summary>
    public void Enqueue(TransportMessage message, DateTimeOffset? visibleAt)
    {
        lock (_gate)
        {
            var entry = new Entry(message, time.GetUtcNow());
            if (visibleAt is { } at && at > time.GetUtcNow())
            {
                HideLocked(entry, at);
            }
            else
            {
                ReadyListOf(entry).AddLast(entry.Node);
            }

            ServeWaitersLocked();
        }
    }

    /// <summary>Takes up to <paramref name="max"/> ready messages, each under a lease of <paramref name="leaseDuration"/>.
    /// When none is ready, waits up to <paramref name="longPoll"/> for one and returns none if nothing came.</summary>
    public ValueTask<IReadOnlyList<IReceivedMessage>> ReceiveAsync(int max, TimeSpan leaseDuration, TimeSpan longPoll, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<IReadOnlyList<IReceivedMessage>>(cancellationToken);
        }

        // The timer is made on the first receive, outside the lock: making a timer may move a test clock and fire timers.
        if (Volatile.Read(ref _timer) is null)
        {
            var timer = time.CreateTimer(static state => ((InMemoryQueue)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            if (Interlocked.CompareExchange(ref _timer, timer, null) is not null)
            {
                timer.Dispose();
            }
        }

        lock (_gate)
        {
            var now = time.GetUtcNow();
            var taken = TakeLocked(max, leaseDuration, now);
            if (taken.Length > 0)
            {
                return new ValueTask<IReadOnlyList<IReceivedMessage>>(taken);
            }

            var waiter = _idleWaiters.TryPop(out var idle) ? idle : new Waiter(this);
            var version = waiter.Start(max, leaseDuration, now + longPoll);
            _waiters.Add(waiter);
            waiter.Cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((Waiter)state!).Queue.Withdraw((Waiter)state!, token), waiter);
            ServeWaitersLocked(); // arms the timer for the poll's end
            return new ValueTask<IReadOnlyList<IReceivedMessage>>(waiter, version);
        }
    }

    /// <summary>A cancelled receive leaves the line (unless it was served first).</summary>
    private void Withdraw(Waiter waiter, CancellationToken token)
    {
        lock (_gate)
        {
            if (_waiters.Remove(waiter))
            {
                waiter.Cancel(token);
            }
        }
    }

    private void OnTimer()
    {
        lock (_gate)
        {
            _timerDueAt = null;
            ServeWaitersLocked();
        }
    }

    /// <summary>Hands ready messages to the waiters, oldest first; ends the polls whose time is up; and arms the timer
    /// for the next moment something can change for those still waiting.</summary>
    private void ServeWaitersLocked()
    {
        while (_waiters.Count > 0)
        {
            var now = time.GetUtcNow();
            while (_waiters.Count > 0 && TakeLocked(_waiters[0].Max, _waiters[0].LeaseDuration, now) is { Length: > 0 } taken)
            {
                _waiters[0].Finish(taken);
                _waiters.RemoveAt(0);
            }

            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].PollEndsAt <= now)
                {
                    _waiters[i].Finish([]);
                    _waiters.RemoveAt(i);
                }
            }

            if (_waiters.Count == 0)
            {
                return;
            }

            var next = _noneHiddenBefore;
            foreach (var waiter in _waiters)
            {
                next = waiter.PollEndsAt < next ? waiter.PollEndsAt : next;
            }

            if (_timerDueAt == next)
            {
                return;
            }

            _timerDueAt = next;
            _timer!.Change(next - now, Timeout.InfiniteTimeSpan);

            // Had the clock passed `next` while the timer was armed, the timer would fire late: go round instead.
            if (time.GetUtcNow() < next)
            {
                return;
            }
        }
    }

    /// <summary>Takes up to <paramref name="max"/> ready messages and leases them: each becomes hidden until its lease
    /// ends.</summary>
    private IReceivedMessage[] TakeLocked(int max, TimeSpan leaseDuration, DateTimeOffset now)
    {
        PromoteDueLocked(now);
        var readyCount = ReadyCountLocked();
        if (readyCount == 0)
        {
            return [];
        }

        var taken = new IReceivedMessage[Math.Min(max, readyCount)];
        for (var i = 0; i < taken.Length; i++)
        {
            var entry = FirstReadyLocked();
            entry.Lease++; // any earlier delivery's lease is now stale
            entry.Leased = true;
            HideLocked(entry, now + leaseDuration);
            taken[i] = new Delivery(this, entry, entry.Lease, now + leaseDuration);
        }

        return taken;
    }

    /// <summary>Makes the hidden entries whose time has come ready, earliest first.</summary>
    private void PromoteDueLocked(DateTimeOffset now)
    {
        if (now < _noneHiddenBefore)
        {
            return; // nothing to look at
        }

        _noneHiddenBefore = DateTimeOffset.MaxValue;
        foreach (var entry in _hidden)
        {
            if (entry.HiddenUntil <= now)
            {
                _due.Add(entry);
            }
            else if (entry.HiddenUntil < _noneHiddenBefore)
            {
                _noneHiddenBefore = entry.HiddenUntil;
            }
        }

        _due.Sort(static (a, b) => a.HiddenUntil.CompareTo(b.HiddenUntil));
        foreach (var entry in _due)
        {
            _hidden.Remove(entry);
            ReadyListOf(entry).AddLast(entry.Node);
        }

        _due.Clear();
    }

    /// <summary>Hides <paramref name="entry"/> until <paramref name="until"/> (a delay or a lease).</summary>
    private void HideLocked(Entry entry, DateTimeOffset until)
    {
        entry.Node.List?.Remove(entry.Node);
        entry.HiddenUntil = until;
        _hidden.Add(entry);
        if (until < _noneHiddenBefore)
        {
            _noneHiddenBefore = until;
        }
    }

    /// <summary>Throws unless <paramref name="lease"/> is the entry's current lease: a delivery may act on its message
    /// only while no later delivery exists and the message is not settled.</summary>
    private void EnsureHeldLocked(Entry entry, int lease)
    {
        if (entry.Settled || entry.Lease != lease)
        {
            throw new LeaseLostException(
                $"The lease on message '{entry.Message.MessageId}' in queue '{Name}' was lost: it expired and the message was received again, or it was already settled.");
        }
    }

    /// <summary>Counts <paramref name="attempt"/> as the entry's attempts so far: its handlers start.</summary>
    private void BeginAttempt(Entry entry, int lease, int attempt)
    {
        lock (_gate)
        {
            EnsureHeldLocked(entry, lease);
            entry.Attempts = attempt;
        }
    }

    private DateTimeOffset Renew(Entry entry, int lease, TimeSpan duration)
    {
        lock (_gate)
        {
            EnsureHeldLocked(entry, lease);
            var expiry = time.GetUtcNow() + duration;
            HideLocked(entry, expiry); // a lease that ended but was not taken over yet can still be renewed
            return expiry;
        }
    }

    /// <summary>Removes the message, or moves it to the dead letters with <paramref name="failure"/>.</summary>
    private Task Settle(Entry entry, int lease, FailureDetails? failure = null)
    {
        lock (_gate)
        {
            EnsureHeldLocked(entry, lease);
            entry.Settled = true;
            _hidden.Remove(entry);
            entry.Node.List?.Remove(entry.Node);
            if (failure is not null)
            {
                _deadLetters.Add(failure.AddTo(entry.Message));
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Gives the message back: ready at once (at the front, as it was taken first) or after
    /// <paramref name="delay"/>, with <paramref name="attempts"/> counted so far (a release takes back the delivery's
    /// attempt, an abandon keeps it).</summary>
    private Task GiveBack(Entry entry, int lease, TimeSpan delay, int attempts)
    {
        lock (_gate)
        {
            EnsureHeldLocked(entry, lease);
            entry.Lease++; // this delivery is over
            entry.Attempts = attempts;
            entry.Leased = false;

            if (delay > TimeSpan.Zero)
            {
                HideLocked(entry, time.GetUtcNow() + delay);
            }
            else
            {
                _hidden.Remove(entry);
                if (entry.Node.List is null)
                {
                    ReadyListOf(entry).AddFirst(entry.Node);
                }
            }

            ServeWaitersLocked();
        }

        return Task.CompletedTask;
    }

    /// <summary>The queue's counts now: a hidden entry is in flight while its lease runs, delayed while its delay runs,
    /// and ready once its time has come (even before a receive moves it to the ready list).</summary>
    public QueueStatistics Statistics()
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            long ready = ReadyCountLocked(), inFlight = 0, delayed = 0;
            var oldest = DateTimeOffset.MaxValue;
            foreach (var entry in _ready.SelectMany(list => list))
            {
                oldest = entry.EnqueuedAt < oldest ? entry.EnqueuedAt : oldest;
            }

            foreach (var entry in _hidden)
            {
                if (entry.HiddenUntil > now && !entry.Leased)
                {
                    delayed++;
                    continue;
                }

                if (entry.HiddenUntil > now)
                {
                    inFlight++;
                }
                else
                {
                    ready++;
                }

                oldest = entry.EnqueuedAt < oldest ? entry.EnqueuedAt : oldest;
            }

            TimeSpan? age = oldest == DateTimeOffset.MaxValue ? null : now - oldest;
            return new QueueStatistics(Name, ready, inFlight, delayed, _deadLetters.Count, age, now);
        }
    }

    public List<TransportMessage> PeekDeadLetters(int max) => Locked(q => q._deadLetters.Take(max).ToList());

    /// <summary>Removes and returns the dead letters with the given ids (all of them when <paramref name="ids"/> is null).</summary>
    public List<TransportMessage> TakeDeadLetters(IReadOnlyCollection<string>? ids)
    {
        lock (_gate)
        {
            var taken = _deadLetters.Where(m => ids is null || (m.MessageId is { } id && ids.Contains(id))).ToList();
            _deadLetters.RemoveAll(taken.Contains);
            return taken;
        }
    }

    private static LinkedList<Entry>[] NewReadyLists()
    {
        var lists = new LinkedList<Entry>[DeliveryOptions.MaxPriority + 1];
        for (var i = 0; i < lists.Length; i++)
        {
            lists[i] = new LinkedList<Entry>();
        }

        return lists;
    }

    /// <summary>The ready list of the entry's priority.</summary>
    private LinkedList<Entry> ReadyListOf(Entry entry) => _ready[entry.Priority];

    /// <summary>The first entry of the highest priority that has one (there must be one).</summary>
    private Entry FirstReadyLocked()
    {
        for (var priority = _ready.Length - 1; ; priority--)
        {
            if (_ready[priority].First is { } first)
            {
                return first.Value;
            }
        }
    }

    private int ReadyCountLocked()
    {
        var count = 0;
        foreach (var list in _ready)
        {
            count += list.Count;
        }

        return count;
    }

    private T Locked<T>(Func<InMemoryQueue, T> read)
    {
        lock (_gate)
        {
            return read(this);
        }
    }

    /// <summary>A message in the queue, from its send until it is settled.</summary>
    private sealed class Entry
    {
        public Entry(TransportMessage message, DateTimeOffset enqueuedAt)
        {
            Message = message;
            Priority = message.Priority;
            EnqueuedAt = enqueuedAt;
            Node = new LinkedListNode<Entry>(this);
        }

        public TransportMessage Message { get; }

        /// <summary>Its priority, 0 to 9: the index of its ready list.</summary>
        public int Priority { get; }

        /// <summary>When it was put in the queue.</summary>
        public DateTimeOffset EnqueuedAt { get; }

        /// <summary>Whether it is hidden because a delivery holds it (rather than for a delay).</summary>
        public bool Leased { get; set; }

        /// <summary>Its place in the ready list (<c>Node.List</c> is null while it is hidden).</summary>
        public LinkedListNode<Entry> Node { get; }

        /// <summary>When it becomes ready again, while it is hidden.</summary>
        public DateTimeOffset HiddenUntil { get; set; }

        /// <summary>Deliveries that counted as attempts so far.</summary>
        public int Attempts { get; set; }

        /// <summary>The number of the current lease; every delivery gets the next one.</summary>
        public int Lease { get; set; }

        public bool Settled { get; set; }
    }

    /// <summary>One delivery of an entry: the handle a receiver settles it with.</summary>
    private sealed class Delivery(InMemoryQueue queue, Entry entry, int lease, DateTimeOffset expiresAt) : IReceivedMessage
    {
        private long _expiresAtTicks = expiresAt.UtcTicks; // renewed on the lease renewer's thread, read on the worker's

        public TransportMessage Message => entry.Message;

        public string Queue => queue.Name;

        public int ReceiveCount { get; } = entry.Attempts + 1;

        public DateTimeOffset LeaseExpiresAt => new(Volatile.Read(ref _expiresAtTicks), TimeSpan.Zero);

        public Task<DateTimeOffset> RenewLeaseAsync(TimeSpan duration, CancellationToken cancellationToken)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero);
            var expiry = queue.Renew(entry, lease, duration);
            Volatile.Write(ref _expiresAtTicks, expiry.UtcTicks);
            return Task.FromResult(expiry);
        }

        public ValueTask BeginAttemptAsync(CancellationToken cancellationToken)
        {
            queue.BeginAttempt(entry, lease, ReceiveCount);
            return ValueTask.CompletedTask;
        }

        public Task CompleteAsync(CancellationToken cancellationToken) => queue.Settle(entry, lease);

        public Task AbandonAsync(TimeSpan delay, CancellationToken cancellationToken) => queue.GiveBack(entry, lease, delay, ReceiveCount);

        public Task ReleaseAsync(TimeSpan delay, CancellationToken cancellationToken) => queue.GiveBack(entry, lease, delay, ReceiveCount - 1);

        public Task DeadLetterAsync(FailureDetails failure, CancellationToken cancellationToken) =>
            queue.Settle(entry, lease, failure ?? throw new ArgumentNullException(nameof(failure)));
    }

    /// <summary>Takes back a waiter whose result was read, for the next long poll (a waiting receive allocates nothing).</summary>
    private void ReturnIdle(Waiter waiter)
    {
        lock (_gate)
        {
            _idleWaiters.Push(waiter);
        }
    }

    /// <summary>A receive waiting for messages: completed with the messages handed to it, with none when its poll ends,
    /// or cancelled. Its awaiting code runs on the thread pool, never on the thread that completed it. It is the
    /// <see cref="ValueTask{TResult}"/>'s source: once its result is read it goes back to the queue for the next long
    /// poll, unless its cancellation callback may still run (then it is simply dropped), so a callback never touches a
    /// later receive.</summary>
    private sealed class Waiter(InMemoryQueue queue) : IValueTaskSource<IReadOnlyList<IReceivedMessage>>
    {
        private ManualResetValueTaskSourceCore<IReadOnlyList<IReceivedMessage>> _core = new() { RunContinuationsAsynchronously = true };
        private bool _reusable;

        public InMemoryQueue Queue { get; } = queue;

        /// <summary>Its registration with the receiver's cancellation token (set under the queue's lock).</summary>
        public CancellationTokenRegistration Cancellation { get; set; }

        public int Max { get; private set; }

        public TimeSpan LeaseDuration { get; private set; }

        public DateTimeOffset PollEndsAt { get; private set; }

        /// <summary>Begins a long poll (under the queue's lock); returns the token of this use.</summary>
        public short Start(int max, TimeSpan leaseDuration, DateTimeOffset pollEndsAt)
        {
            Max = max;
            LeaseDuration = leaseDuration;
            PollEndsAt = pollEndsAt;
            _reusable = false;
            return _core.Version;
        }

        /// <summary>Completes the receive (under the queue's lock). Its awaiting code runs later, on the thread pool.</summary>
        public void Finish(IReadOnlyList<IReceivedMessage> received)
        {
            // False when a cancellation is running now (it will find the waiter gone): then this waiter is not reused.
            _reusable = Cancellation.Unregister();
            _core.SetResult(received);
        }

        /// <summary>Cancels the receive (under the queue's lock); a cancelled waiter is not reused.</summary>
        public void Cancel(CancellationToken token) => _core.SetException(new OperationCanceledException(token));

        public IReadOnlyList<IReceivedMessage> GetResult(short token)
        {
            var result = _core.GetResult(token);
            if (_reusable)
            {
                _core.Reset();
                Queue.ReturnIdle(this);
            }

            return result;
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}

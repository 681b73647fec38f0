namespace Bus.Leases;

/// <summary>
/// The deadlines of every lease an endpoint holds (first heartbeat, max runtime) on one timer armed for the earliest.
/// A timer per message would cost two timer-queue entries (and their locks) for every message, even the many that are
/// settled long before either deadline; here a deadline costs one priority-queue slot. Deadlines of stopped renewers
/// are skipped when due and dropped in bulk when they outnumber the live ones.
/// </summary>
internal sealed class LeaseDeadlines : IDisposable
{
    private const int CompactionSlack = 64;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private readonly PriorityQueue<(LeaseRenewer Renewer, LeaseDeadline Kind), (DateTimeOffset At, long Sequence)> _queue = new();
    private readonly ITimer _timer;
    private readonly List<(LeaseRenewer Renewer, LeaseDeadline Kind)> _due = [];
    private readonly List<((LeaseRenewer Renewer, LeaseDeadline Kind) Element, (DateTimeOffset At, long Sequence) Priority)> _compacting = [];
    private DateTimeOffset? _armedFor;
    private long _sequence;
    private int _liveAfterCompaction;
    private bool _firing;
    private bool _disposed;

    public LeaseDeadlines(TimeProvider time)
    {
        _time = time;
        _timer = time.CreateTimer(static state => ((LeaseDeadlines)state!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Calls <paramref name="renewer"/> back with <paramref name="kind"/> at <paramref name="at"/>, unless it
    /// has stopped by then. The clock is read only when the timer has to be armed earlier than it is.</summary>
    public void Schedule(LeaseRenewer renewer, LeaseDeadline kind, DateTimeOffset at)
    {
        bool fireNow;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _queue.Enqueue((renewer, kind), (at, ++_sequence));
            if (_queue.Count > (2 * _liveAfterCompaction) + CompactionSlack)
            {
                Compact();
            }

            fireNow = !_firing && (_armedFor is null || at < _armedFor) && Arm(at);
        }

        if (fireNow)
        {
            Fire();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _queue.Clear();
        }

        _timer.Dispose();
    }

    /// <summary>Calls back every deadline that is due, then arms the timer for the next one.</summary>
    private void Fire()
    {
        lock (_gate)
        {
            if (_disposed || _firing)
            {
                return;
            }

            _firing = true;
            _armedFor = null;
        }

        while (true)
        {
            lock (_gate)
            {
                var now = _time.GetUtcNow();
                while (_queue.TryPeek(out var entry, out var due) && due.At <= now)
                {
                    _queue.Dequeue();
                    if (!entry.Renewer.IsStopped)
                    {
                        _due.Add(entry);
                    }
                }

                if (_due.Count == 0)
                {
                    // Nothing due now: arm for the next deadline, unless it fell due meanwhile (then go round again).
                    if (_disposed || !_queue.TryPeek(out _, out var next) || !Arm(next.At))
                    {
                        _firing = false;
                        return;
                    }

                    _armedFor = null;
                    continue;
                }
            }

            // Outside the lock: a callback may schedule (the runtime deadline) or renew through the transport.
            foreach (var (renewer, kind) in _due)
            {
                renewer.OnDeadline(kind);
            }

            _due.Clear();
        }
    }

    /// <summary>Arms the timer for <paramref name="at"/>; returns true instead when it is due already, for the caller
    /// to fire outside the lock (a manual clock would fire a zero-delay timer inline, inside the lock).</summary>
    private bool Arm(DateTimeOffset at)
    {
        var wait = at - _time.GetUtcNow();
        if (wait <= TimeSpan.Zero)
        {
            return true;
        }

        _armedFor = at;
        _timer.Change(wait, Timeout.InfiniteTimeSpan);

        // The clock may have reached the deadline while the timer was armed (a timer armed late fires late).
        return _time.GetUtcNow() >= at;
    }

    private void Compact()
    {
        foreach (var item in _queue.UnorderedItems)
        {
            if (!item.Element.Renewer.IsStopped)
            {
                _compacting.Add(item);
            }
        }

        _queue.Clear();
        _queue.EnqueueRange(_compacting);
        _liveAfterCompaction = _compacting.Count;
        _compacting.Clear();
    }
}

/// <summary>What falls due for a lease.</summary>
internal enum LeaseDeadline
{
    /// <summary>The first heartbeat: the renewal loop starts.</summary>
    FirstHeartbeat,

    /// <summary>The handler's max runtime: it is cancelled.</summary>
    MaxRuntime,
}

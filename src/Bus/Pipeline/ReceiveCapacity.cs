using System.Threading.Tasks.Sources;

namespace Bus.Pipeline;

/// <summary>
/// How many more messages an endpoint may receive (concurrency + prefetch, less what it holds). Its one receive loop
/// waits here until enough places are free to receive a batch, or until a worker is idle (then one free place is
/// enough: a worker never waits for the loop to fill a batch). Woken per batch, not per handled message, the loop
/// takes the queue's lock and hops threads once for several messages. A semaphore would also allocate a waiter, a
/// cancellation promise and a state machine for each wait; this reuses one signal and registers once on the stopping
/// token.
/// </summary>
internal sealed class ReceiveCapacity : IValueTaskSource, IDisposable
{
    private readonly object _gate = new();
    private readonly CancellationToken _stopping;
    private readonly int _batch;
    private readonly Func<bool> _workerIdle;
    private readonly CancellationTokenRegistration _registration;
    private ManualResetValueTaskSourceCore<bool> _signal = new() { RunContinuationsAsynchronously = true };
    private int _free;
    private bool _waiting;

    /// <summary>Creates the capacity; a wait in progress when <paramref name="stopping"/> is cancelled throws
    /// <see cref="OperationCanceledException"/>.</summary>
    /// <param name="size">Places in all.</param>
    /// <param name="batch">Free places worth a receive while every worker is busy (at most <paramref name="size"/>).</param>
    /// <param name="workerIdle">Whether a worker waits for a message; call <see cref="OnWorkerIdle"/> when one starts to.</param>
    /// <param name="stopping">Ends waits.</param>
    public ReceiveCapacity(int size, int batch, Func<bool> workerIdle, CancellationToken stopping)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batch, size);
        ArgumentNullException.ThrowIfNull(workerIdle);
        _free = size;
        _batch = batch;
        _workerIdle = workerIdle;
        _stopping = stopping;
        _registration = stopping.UnsafeRegister(static state => ((ReceiveCapacity)state!).OnStopping(), this);
    }

    /// <summary>Takes one place once a batch's worth is free or a worker is idle. One wait at a time.</summary>
    public ValueTask TakeAsync()
    {
        lock (_gate)
        {
            _stopping.ThrowIfCancellationRequested();
            if (_waiting)
            {
                throw new InvalidOperationException("Only one wait at a time.");
            }

            if (WorthReceiving())
            {
                _free--;
                return ValueTask.CompletedTask;
            }

            _signal.Reset();
            _waiting = true;
            return new ValueTask(this, _signal.Version);
        }
    }

    /// <summary>Takes up to <paramref name="max"/> free places without waiting; returns how many it took.</summary>
    public int TakeUpTo(int max)
    {
        lock (_gate)
        {
            var taken = Math.Min(max, _free);
            _free -= taken;
            return taken;
        }
    }

    /// <summary>Gives back <paramref name="count"/> places (waking the waiting loop when that is worth a receive).</summary>
    public void Release(int count = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 0);
        bool wake;
        lock (_gate)
        {
            _free += count;
            wake = TryWakeLocked();
        }

        if (wake)
        {
            _signal.SetResult(true);
        }
    }

    /// <summary>A worker started waiting for a message: one free place is worth a receive now.</summary>
    public void OnWorkerIdle()
    {
        bool wake;
        lock (_gate)
        {
            wake = TryWakeLocked();
        }

        if (wake)
        {
            _signal.SetResult(true);
        }
    }

    private bool WorthReceiving() => _free >= _batch || (_free > 0 && _workerIdle());

    /// <summary>Hands the waiting loop its place when receiving is worth it; true when it is to be woken.</summary>
    private bool TryWakeLocked()
    {
        if (!_waiting || !WorthReceiving())
        {
            return false;
        }

        _waiting = false;
        _free--;
        return true;
    }

    public void Dispose() => _registration.Dispose();

    void IValueTaskSource.GetResult(short token) => _signal.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _signal.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _signal.OnCompleted(continuation, state, token, flags);

    private void OnStopping()
    {
        lock (_gate)
        {
            if (!_waiting)
            {
                return;
            }

            _waiting = false;
        }

        _signal.SetException(new OperationCanceledException(_stopping));
    }
}

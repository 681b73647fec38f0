using System.Diagnostics;
using System.Threading.Tasks.Sources;

namespace Bus.Benchmarks;

/// <summary>
/// What the no-op handlers of both buses report to: a count of handled messages and a signal that completes, with
/// the <see cref="Stopwatch"/> timestamp of the handling, when the count reaches a target.
/// </summary>
/// <remarks>
/// The signal is one reusable value-task source (one wait at a time), and a run's time limit is one timer for the
/// whole run (<see cref="FailAfter"/>): the harness allocates nothing per message, so bytes per message are the bus's.
/// </remarks>
public sealed class HandledSignal : IValueTaskSource<long>
{
    private ManualResetValueTaskSourceCore<long> _core = new() { RunContinuationsAsynchronously = true };
    private long _handled;
    private long _target = long.MaxValue;
    private int _armed;

    /// <summary>Messages handled since the bus started.</summary>
    public long Handled => Interlocked.Read(ref _handled);

    /// <summary>Arms the signal: the returned task completes when <paramref name="target"/> messages have been handled
    /// in all. Await it before arming the next.</summary>
    public ValueTask<long> WhenHandled(long target)
    {
        _core.Reset();
        Volatile.Write(ref _target, target);
        Volatile.Write(ref _armed, 1);
        if (Handled >= target)
        {
            TryComplete(Stopwatch.GetTimestamp());
        }

        return new ValueTask<long>(this, _core.Version);
    }

    /// <summary>Called by a handler for every message.</summary>
    public void OnHandled()
    {
        var count = Interlocked.Increment(ref _handled);
        if (Volatile.Read(ref _armed) == 1 && count >= Volatile.Read(ref _target))
        {
            TryComplete(Stopwatch.GetTimestamp());
        }
    }

    /// <summary>Fails the armed wait (and every later one) with a timeout once <paramref name="limit"/> has passed;
    /// dispose the result when the run ends in time.</summary>
    public IDisposable FailAfter(TimeSpan limit) => new Timer(
        static state => ((HandledSignal)state!).Fail(),
        this,
        limit,
        Timeout.InfiniteTimeSpan);

    /// <inheritdoc />
    public long GetResult(short token) => _core.GetResult(token);

    /// <inheritdoc />
    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    /// <inheritdoc />
    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private void Fail()
    {
        if (Interlocked.Exchange(ref _armed, 0) == 1)
        {
            _core.SetException(new TimeoutException($"The run did not finish in time: {Handled:N0} messages handled."));
        }
    }

    private void TryComplete(long timestamp)
    {
        if (Interlocked.Exchange(ref _armed, 0) == 1)
        {
            _core.SetResult(timestamp);
        }
    }
}

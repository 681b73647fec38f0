namespace Bus.Benchmarks;

/// <summary>
/// What the no-op handlers of both buses report to: a count of handled messages and a signal that completes, with
/// the <see cref="System.Diagnostics.Stopwatch"/> timestamp of the handling, when the count reaches a target.
/// </summary>
public sealed class HandledSignal
{
    private long _handled;
    private long _target = long.MaxValue;
    private TaskCompletionSource<long> _reached = NewSignal();

    /// <summary>Messages handled since the bus started.</summary>
    public long Handled => Interlocked.Read(ref _handled);

    /// <summary>Arms the signal: the returned task completes when <paramref name="target"/> messages have been handled in all.</summary>
    public Task<long> WhenHandled(long target)
    {
        var reached = NewSignal();
        Volatile.Write(ref _reached, reached);
        Volatile.Write(ref _target, target);
        if (Handled >= target)
        {
            reached.TrySetResult(System.Diagnostics.Stopwatch.GetTimestamp());
        }

        return reached.Task;
    }

    /// <summary>Called by a handler for every message.</summary>
    public void OnHandled()
    {
        var count = Interlocked.Increment(ref _handled);
        if (count >= Volatile.Read(ref _target))
        {
            Volatile.Read(ref _reached).TrySetResult(System.Diagnostics.Stopwatch.GetTimestamp());
        }
    }

    private static TaskCompletionSource<long> NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

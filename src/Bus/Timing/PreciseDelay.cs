namespace Bus.Timing;

/// <summary>
/// A wait on a <see cref="TimeProvider"/> until an absolute time, to the tick.
/// <c>Task.Delay(TimeSpan, TimeProvider)</c> truncates to whole milliseconds (a 0.4 ms wait completes at once and a
/// 1.7 ms wait ends 0.7 ms early), and any wait computed as "due time minus now" and then armed races with a clock
/// that moves in between: the timer lands one clock move too late. A test clock moved to exactly the due time would
/// then never wake the waiter. This wait arms the provider's timer for the exact remaining time and, once armed,
/// checks the clock again: if the due time passed meanwhile it completes at once.
/// </summary>
public static class PreciseDelay
{
    /// <summary>Completes when <paramref name="time"/>'s clock reaches <paramref name="dueAt"/>; cancelled with
    /// <paramref name="cancellationToken"/>. A due time not later than now completes at once.</summary>
    /// <param name="time">The clock.</param>
    /// <param name="dueAt">When to complete.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <param name="continueOnTimer">Run the awaiting code on the timer's callback, as <c>Task.Delay</c> does, instead
    /// of queueing it: a manual clock moved across several due times then runs a chain of waits (heartbeats) each at
    /// its own time before it moves on.</param>
    public static Task WaitUntilAsync(TimeProvider time, DateTimeOffset dueAt, CancellationToken cancellationToken, bool continueOnTimer = false)
    {
        ArgumentNullException.ThrowIfNull(time);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled(cancellationToken);
        }

        var left = dueAt - time.GetUtcNow();
        if (left <= TimeSpan.Zero)
        {
            return Task.CompletedTask;
        }

        var wait = new Wait(cancellationToken, continueOnTimer ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously);
        wait.Arm(time, left, dueAt);
        return wait.Task;
    }

    private sealed class Wait(CancellationToken cancellationToken, TaskCreationOptions options) : TaskCompletionSource(options)
    {
        private ITimer? _timer;
        private CancellationTokenRegistration _registration;

        public void Arm(TimeProvider time, TimeSpan left, DateTimeOffset dueAt)
        {
            var timer = time.CreateTimer(static state => ((Wait)state!).Finish(canceled: false), this, left, Timeout.InfiniteTimeSpan);
            Volatile.Write(ref _timer, timer);
            if (cancellationToken.CanBeCanceled)
            {
                _registration = cancellationToken.Register(static state => ((Wait)state!).Finish(canceled: true), this);
            }

            if (Task.IsCompleted)
            {
                Release(); // the timer fired (or the token was cancelled) before the fields were set
            }
            else if (time.GetUtcNow() >= dueAt)
            {
                Finish(canceled: false); // the clock reached the due time while the timer was being armed
            }
        }

        private void Finish(bool canceled)
        {
            var done = canceled ? TrySetCanceled(cancellationToken) : TrySetResult();
            if (done && Volatile.Read(ref _timer) is not null)
            {
                Release();
            }
        }

        private void Release()
        {
            Volatile.Read(ref _timer)?.Dispose();
            _registration.Dispose();
        }
    }
}

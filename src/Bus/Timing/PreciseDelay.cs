namespace Bus.Timing;

/// <summary>
/// A delay on a <see cref="TimeProvider"/> that keeps the full precision of its <see cref="TimeSpan"/>.
/// <c>Task.Delay(TimeSpan, TimeProvider)</c> truncates to whole milliseconds: a 0.4 ms wait completes at once and a
/// 1.7 ms wait ends 0.7 ms early, so a loop waiting for a due time either spins or (rounded up instead) overshoots
/// the due time a test clock was moved to exactly. This one arms the provider's timer with the exact duration.
/// </summary>
internal static class PreciseDelay
{
    /// <summary>Completes after <paramref name="delay"/> on <paramref name="time"/>'s clock; cancelled with
    /// <paramref name="cancellationToken"/>. A zero or negative delay completes at once.</summary>
    public static Task WaitAsync(TimeProvider time, TimeSpan delay, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(time);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled(cancellationToken);
        }

        if (delay <= TimeSpan.Zero)
        {
            return Task.CompletedTask;
        }

        var wait = new Wait(cancellationToken);
        wait.Arm(time, delay);
        return wait.Task;
    }

    private sealed class Wait(CancellationToken cancellationToken) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        private ITimer? _timer;
        private CancellationTokenRegistration _registration;

        public void Arm(TimeProvider time, TimeSpan delay)
        {
            var timer = time.CreateTimer(static state => ((Wait)state!).Finish(canceled: false), this, delay, Timeout.InfiniteTimeSpan);
            Volatile.Write(ref _timer, timer);
            if (cancellationToken.CanBeCanceled)
            {
                _registration = cancellationToken.Register(static state => ((Wait)state!).Finish(canceled: true), this);
            }

            if (Task.IsCompleted)
            {
                Release(); // the timer fired (or the token was cancelled) before the fields were set
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

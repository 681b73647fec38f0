namespace Bus.Leases;

/// <summary>
/// The timer of one worker, which the <see cref="LeaseRenewer"/>s of the deliveries it handles, one after another, arm
/// for their next heartbeat or max runtime: a worker holds one delivery at a time, so one timer serves them all and a
/// message costs no timer of its own. A ring meant for a renewer that has stopped since is ignored.
/// </summary>
internal sealed class LeaseClock : IDisposable
{
    private readonly ITimer _timer;
    private LeaseRenewer? _armedFor;

    public LeaseClock(TimeProvider time) =>
        _timer = time.CreateTimer(static state => ((LeaseClock)state!).Ring(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

    /// <summary>Rings <paramref name="renewer"/> after <paramref name="wait"/> (zero: at once).</summary>
    public void Arm(LeaseRenewer renewer, TimeSpan wait)
    {
        Volatile.Write(ref _armedFor, renewer);
        _timer.Change(wait, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Rings nobody, when the clock is armed for <paramref name="renewer"/>.</summary>
    public void Disarm(LeaseRenewer renewer)
    {
        if (Interlocked.CompareExchange(ref _armedFor, null, renewer) == renewer)
        {
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    public void Dispose() => _timer.Dispose();

    private void Ring() => Volatile.Read(ref _armedFor)?.OnClock();
}

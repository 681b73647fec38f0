using Bus.Testing;

namespace Bus.Tests.Support;

/// <summary>A clock that moves by <paramref name="step"/> while the next timer is being armed, as a test harness's
/// clock may when another thread advances it: a wait computed as "due time minus now" and armed afterwards lands one
/// step too late. Only the first <paramref name="times"/> timers see the move.</summary>
public sealed class ClockMovingWhileArming(ManualTimeProvider inner, TimeSpan step, int times = 1) : TimeProvider
{
    private int _left = times;

    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

    public override long TimestampFrequency => inner.TimestampFrequency;

    public override long GetTimestamp() => inner.GetTimestamp();

    public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        if (Interlocked.Decrement(ref _left) >= 0)
        {
            inner.Advance(step);
        }

        return inner.CreateTimer(callback, state, dueTime, period);
    }
}

using Bus.Testing;
using Bus.Tests.Support;
using Bus.Timing;

namespace Bus.Tests.Unit;

public sealed class ManualTimeProviderTests
{
    [Fact]
    public void Advance_fires_due_timers_in_time_order_and_moves_the_clock_to_each()
    {
        var time = new ManualTimeProvider();
        var start = time.GetUtcNow();
        var fired = new List<(string Name, TimeSpan At)>();
        using var late = time.CreateTimer(_ => fired.Add(("late", time.GetUtcNow() - start)), null, TimeSpan.FromSeconds(3), Timeout.InfiniteTimeSpan);
        using var early = time.CreateTimer(_ => fired.Add(("early", time.GetUtcNow() - start)), null, TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan);
        using var never = time.CreateTimer(_ => fired.Add(("never", time.GetUtcNow() - start)), null, TimeSpan.FromSeconds(10), Timeout.InfiniteTimeSpan);

        time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal([("early", TimeSpan.FromSeconds(1)), ("late", TimeSpan.FromSeconds(3))], fired);
        Assert.Equal(start + TimeSpan.FromSeconds(5), time.GetUtcNow());
        Assert.Equal(1, time.PendingTimers);
    }

    [Fact]
    public void Periodic_timers_fire_once_per_period_and_stop_when_disposed()
    {
        var time = new ManualTimeProvider();
        var count = 0;
        var timer = time.CreateTimer(_ => count++, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

        time.Advance(TimeSpan.FromSeconds(3.5));
        timer.Dispose();
        time.Advance(TimeSpan.FromSeconds(3));

        Assert.Equal(3, count);
    }

    [Fact]
    public async Task Task_Delay_on_the_manual_clock_completes_only_when_time_is_advanced()
    {
        var time = new ManualTimeProvider();
        var delay = Task.Delay(TimeSpan.FromMinutes(5), time);

        time.Advance(TimeSpan.FromMinutes(4));
        Assert.False(delay.IsCompleted);
        time.Advance(TimeSpan.FromMinutes(1));
        await delay.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task PreciseDelay_keeps_sub_millisecond_precision_where_Task_Delay_truncates()
    {
        var time = new ManualTimeProvider();
        var delay = PreciseDelay.WaitUntilAsync(time, time.GetUtcNow() + TimeSpan.FromTicks(17_345), CancellationToken.None);
        time.Advance(TimeSpan.FromTicks(17_344));
        Assert.False(delay.IsCompleted);
        time.Advance(TimeSpan.FromTicks(1));
        await delay.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(0, time.PendingTimers);
    }

    [Fact]
    public async Task PreciseDelay_completes_when_the_clock_reaches_the_due_time_while_its_timer_is_armed()
    {
        // Another thread moves the clock to exactly the due time between "due minus now" and the timer's arming:
        // the timer lands one move too late, so the wait must notice the due time on its own.
        var inner = new ManualTimeProvider();
        var due = inner.GetUtcNow() + TimeSpan.FromTicks(8_293_424);
        var time = new ClockMovingWhileArming(inner, TimeSpan.FromTicks(8_293_424));

        var delay = PreciseDelay.WaitUntilAsync(time, due, CancellationToken.None);

        await delay.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(due, inner.GetUtcNow());
        Assert.Equal(0, inner.PendingTimers);
    }

    [Fact]
    public void PreciseDelay_until_a_time_already_passed_completes_at_once_without_a_timer()
    {
        var time = new ManualTimeProvider();

        Assert.True(PreciseDelay.WaitUntilAsync(time, time.GetUtcNow(), CancellationToken.None).IsCompletedSuccessfully);
        Assert.Equal(0, time.PendingTimers);
        Assert.False(PreciseDelay.WaitUntilAsync(time, time.GetUtcNow() + TimeSpan.FromTicks(1), CancellationToken.None).IsCompleted);
        Assert.Equal(1, time.PendingTimers);
    }

    [Fact]
    public async Task PreciseDelay_is_cancelled_by_its_token_and_frees_its_timer()
    {
        var time = new ManualTimeProvider();
        using var cancel = new CancellationTokenSource();

        var delay = PreciseDelay.WaitUntilAsync(time, time.GetUtcNow() + TimeSpan.FromMinutes(1), cancel.Token);
        Assert.Equal(1, time.PendingTimers);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => delay);
        Assert.Equal(0, time.PendingTimers);
        Assert.True(PreciseDelay.WaitUntilAsync(time, time.GetUtcNow(), CancellationToken.None).IsCompletedSuccessfully);
    }

    [Fact]
    public void Moving_backwards_is_rejected()
    {
        var time = new ManualTimeProvider();

        Assert.Throws<ArgumentOutOfRangeException>(() => time.Advance(TimeSpan.FromSeconds(-1)));
    }
}

using Microsoft.Extensions.Logging;

namespace Bus.Schedules;

/// <summary>
/// Fires the endpoint's recurring schedules, one loop per schedule, from start to stop. At each tick a loop claims the
/// tick in the <see cref="IScheduleStore"/> and sends the schedule's message only when the claim succeeds, so every
/// host runs the schedule and one fires each tick. The message id is derived from the schedule and tick. On start it
/// records each schedule's definition in the store (<see cref="IScheduleStore.RegisterAsync"/>), which is what the tooling
/// lists.
/// </summary>
/// <remarks>
/// A loop reads the schedule's record, works out the latest tick due (after the last tick fired, or after start-up when
/// missed ticks are skipped or nothing fired yet, and after the last resume), claims it and sends; then waits for the
/// next tick. A paused schedule is looked at again at each tick. A crash between the claim and the send loses that
/// tick's message (at most once per tick); a send that fails is tried again until the next tick.
/// </remarks>
internal sealed class ScheduleRunner(
    IReadOnlyList<RecurringSchedule> schedules, Func<Type, string> wireName, IScheduleStore store, IBus bus, TimeProvider time, ILoggerFactory loggers)
    : IAsyncDisposable
{
    private static readonly TimeSpan MaxBackOff = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MaxNap = TimeSpan.FromMinutes(1);
    private readonly ILogger _log = loggers.CreateLogger("Bus.Schedules");
    private readonly CancellationTokenSource _stopping = new();
    private Task[] _loops = [];

    /// <summary>Records the definitions in the store (a store that cannot be written stops the start), then starts the
    /// loops.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var startedAt = time.GetUtcNow();
        foreach (var schedule in schedules)
        {
            var definition = new ScheduleDefinition(wireName(schedule.MessageType), schedule.Cron, schedule.Zone.Id, schedule.Missed, startedAt);
            await store.RegisterAsync(schedule.Name, definition, cancellationToken).ConfigureAwait(false);
        }

        _loops = schedules.Select(s => Task.Run(() => RunAsync(s, startedAt, _stopping.Token))).ToArray();
    }

    public async Task StopAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(_loops).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task RunAsync(RecurringSchedule schedule, DateTimeOffset startedAt, CancellationToken stopping)
    {
        var failures = 0;
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                try
                {
                    await StepAsync(schedule, startedAt, stopping).ConfigureAwait(false);
                    failures = 0;
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stopping.IsCancellationRequested)
                {
                    failures++;
                    var backOff = TimeSpan.FromSeconds(Math.Min(MaxBackOff.TotalSeconds, Math.Pow(2, Math.Min(failures, 5))));
                    _log.LogError(ex, "Schedule {Schedule}: the schedule store failed ({Failures} in a row); trying again in {BackOff}.",
                        schedule.Name, failures, backOff);
                    await Task.Delay(backOff, time, stopping).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>Fires the tick due now, if any and if this host claims it; then waits for the next tick.</summary>
    private async Task StepAsync(RecurringSchedule schedule, DateTimeOffset startedAt, CancellationToken stopping)
    {
        var state = await store.GetAsync(schedule.Name, stopping).ConfigureAwait(false);
        var now = time.GetUtcNow();
        var after = Floor(schedule, state, startedAt);
        if (state is not { Paused: true } && schedule.LatestIn(after, now) is { } due)
        {
            if (await store.TryClaimAsync(schedule.Name, due, now, stopping).ConfigureAwait(false))
            {
                if (due < now - TimeSpan.FromMinutes(1))
                {
                    _log.LogInformation("Schedule {Schedule}: firing the missed tick {Tick:O} once.", schedule.Name, due);
                }

                await SendAsync(schedule, due, stopping).ConfigureAwait(false);
            }

            return; // read the record again: the claim, or another host's, moved the last tick
        }

        if (schedule.NextAfter(now > after ? now : after) is not { } next)
        {
            _log.LogWarning("Schedule {Schedule} ({Cron}) has no further tick; it stops.", schedule.Name, schedule.Cron);
            await Task.Delay(Timeout.InfiniteTimeSpan, time, stopping).ConfigureAwait(false);
            return;
        }

        // In naps of at most a minute, each measured from the clock as it is then: a clock that jumps (a suspended
        // machine, a test's manual clock) is noticed within a minute, without reading the store meanwhile.
        for (var current = time.GetUtcNow(); current < next; current = time.GetUtcNow())
        {
            var nap = next - current;
            await Task.Delay(nap < MaxNap ? nap : MaxNap, time, stopping).ConfigureAwait(false);
        }
    }

    /// <summary>Ticks at or before this are not fired: the last fired, the last resume, and (when nothing fired yet, or
    /// missed ticks are skipped) this host's start.</summary>
    private static DateTimeOffset Floor(RecurringSchedule schedule, ScheduleState? state, DateTimeOffset startedAt)
    {
        var floor = state?.LastTick is { } last && schedule.Missed == MissedTicks.FireOnce ? last : Max(startedAt, state?.LastTick);
        return Max(floor, state?.ResumedAt);
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset? b) => b is { } other && other > a ? other : a;

    /// <summary>Sends the tick's message, trying again (with the same message id) until it goes or the next tick is due.</summary>
    private async Task SendAsync(RecurringSchedule schedule, DateTimeOffset tick, CancellationToken stopping)
    {
        var giveUpAt = schedule.NextAfter(time.GetUtcNow()) ?? DateTimeOffset.MaxValue;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await schedule.SendAsync(bus, tick, stopping).ConfigureAwait(false);
                _log.LogInformation("Schedule {Schedule} fired for {Tick:O}.", schedule.Name, tick);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stopping.IsCancellationRequested)
            {
                var backOff = TimeSpan.FromSeconds(Math.Min(MaxBackOff.TotalSeconds, Math.Pow(2, Math.Min(attempt, 5))));
                if (time.GetUtcNow() + backOff >= giveUpAt)
                {
                    _log.LogError(ex, "Schedule {Schedule}: sending the message of tick {Tick:O} failed {Attempts} times; the tick is lost.",
                        schedule.Name, tick, attempt);
                    return;
                }

                _log.LogWarning(ex, "Schedule {Schedule}: sending the message of tick {Tick:O} failed; trying again in {BackOff}.", schedule.Name, tick, backOff);
                await Task.Delay(backOff, time, stopping).ConfigureAwait(false);
            }
        }
    }
}

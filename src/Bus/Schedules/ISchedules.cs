namespace Bus.Schedules;

/// <summary>One recurring schedule as it stands: for status pages and tooling.</summary>
/// <param name="Name">The schedule's name.</param>
/// <param name="MessageType">The wire name of the message it sends.</param>
/// <param name="Cron">Its cron expression.</param>
/// <param name="TimeZone">The id of the time zone the expression is read in.</param>
/// <param name="NextFiring">The next tick, UTC; null while paused or when the expression has no further tick.</param>
/// <param name="LastFiring">The last tick fired (by any host sharing the store), UTC; null when none yet.</param>
/// <param name="LastFiredAt">When that tick was fired, UTC (later than the tick when it was fired after downtime).</param>
/// <param name="Paused">Whether it is paused.</param>
public sealed record ScheduleStatus(
    string Name, string MessageType, string Cron, string TimeZone, DateTimeOffset? NextFiring, DateTimeOffset? LastFiring,
    DateTimeOffset? LastFiredAt, bool Paused);

/// <summary>
/// The endpoint's recurring schedules (<c>bus.Schedule&lt;T&gt;(...)</c>): listed with their next and last firing, and
/// paused or resumed. Pausing is recorded in the schedule store, so it holds for every host sharing the store.
/// </summary>
public interface ISchedules
{
    /// <summary>Every schedule of this endpoint, in the order configured.</summary>
    Task<IReadOnlyList<ScheduleStatus>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>Pauses the schedule: no tick fires until it is resumed.</summary>
    /// <exception cref="ArgumentException">No schedule has this name.</exception>
    Task PauseAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Resumes the schedule: it fires again from its next tick (ticks during the pause never fire).</summary>
    /// <exception cref="ArgumentException">No schedule has this name.</exception>
    Task ResumeAsync(string name, CancellationToken cancellationToken = default);
}

/// <summary>The schedules of the configuration, read from and paused in the store.</summary>
internal sealed class ScheduleBoard(IReadOnlyList<RecurringSchedule> schedules, Func<Type, string> wireName, IScheduleStore store, TimeProvider time)
    : ISchedules
{
    public async Task<IReadOnlyList<ScheduleStatus>> ListAsync(CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        var list = new List<ScheduleStatus>(schedules.Count);
        foreach (var schedule in schedules)
        {
            var state = await store.GetAsync(schedule.Name, cancellationToken).ConfigureAwait(false);
            var paused = state?.Paused == true;
            list.Add(new ScheduleStatus(
                schedule.Name, wireName(schedule.MessageType), schedule.Cron, schedule.Zone.Id, paused ? null : schedule.NextAfter(now),
                state?.LastTick, state?.LastFiredAt, paused));
        }

        return list;
    }

    public Task PauseAsync(string name, CancellationToken cancellationToken = default) =>
        store.SetPausedAsync(Find(name).Name, true, time.GetUtcNow(), cancellationToken);

    public Task ResumeAsync(string name, CancellationToken cancellationToken = default) =>
        store.SetPausedAsync(Find(name).Name, false, time.GetUtcNow(), cancellationToken);

    private RecurringSchedule Find(string name) =>
        schedules.FirstOrDefault(s => s.Name == name)
        ?? throw new ArgumentException(
            $"No schedule is named '{name}' on this endpoint; its schedules are: {string.Join(", ", schedules.Select(s => s.Name).DefaultIfEmpty("(none)"))}.",
            nameof(name));
}

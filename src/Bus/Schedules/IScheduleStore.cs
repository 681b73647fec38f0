namespace Bus.Schedules;

/// <summary>
/// What the store remembers of one recurring schedule: the last tick fired, whether it is paused, and the definition the
/// endpoint last registered.
/// </summary>
/// <param name="Name">The schedule's name.</param>
/// <param name="LastTick">The last tick that was claimed (and so fired), UTC; null when none was yet.</param>
/// <param name="LastFiredAt">When that tick was claimed (later than the tick after downtime), UTC; null when none.</param>
/// <param name="Paused">Whether the schedule is paused: no tick is claimed while it is.</param>
/// <param name="ResumedAt">When it was last resumed, UTC; ticks before this (those during the pause) never fire.</param>
/// <param name="Definition">The definition an endpoint last registered (<see cref="IScheduleStore.RegisterAsync"/>); null
/// when none did (a record made by a claim or a pause alone, or by a version of Bus that did not register).</param>
public sealed record ScheduleState(
    string Name, DateTimeOffset? LastTick, DateTimeOffset? LastFiredAt, bool Paused, DateTimeOffset? ResumedAt, ScheduleDefinition? Definition = null);

/// <summary>
/// A recurring schedule as the endpoint's code defines it, recorded in the store when the endpoint starts so that tools
/// (the <c>bus</c> CLI, status pages) read it from the store rather than from a second copy.
/// </summary>
/// <param name="MessageType">The wire name of the message the schedule sends.</param>
/// <param name="Cron">The cron expression, as configured (five fields, or six with seconds first).</param>
/// <param name="TimeZone">The id of the time zone the expression is read in, e.g. <c>Europe/Oslo</c>.</param>
/// <param name="Missed">What happens to ticks missed while no host ran.</param>
/// <param name="RegisteredAt">When an endpoint last started with this schedule, UTC. A schedule removed from the code keeps
/// its record (it is never deleted automatically); an old registration time shows that it is stale.</param>
public sealed record ScheduleDefinition(string MessageType, string Cron, string TimeZone, MissedTicks Missed, DateTimeOffset RegisteredAt);

/// <summary>
/// Where recurring schedules claim their ticks, so that a tick fires once however many hosts run the schedule. A store
/// shared by those hosts (SQLite on one machine; DynamoDB, Azure Tables, PostgreSQL or another shared store on
/// several) is what makes that hold; the in-memory store is per host.
/// </summary>
/// <remarks>
/// An implementation keeps one record per schedule name (its state and its last registered definition) and needs one
/// atomic conditional write:
/// <see cref="TryClaimAsync"/> succeeds only when the schedule is not paused and no tick at or after the claimed one
/// was recorded before (a compare-and-set on the last tick). Every implementation passes the contract suite
/// <c>ScheduleStoreContractTests</c> in <c>test/Bus.Conformance</c>.
/// </remarks>
public interface IScheduleStore
{
    /// <summary>The schedule's record, or null when it never fired nor was paused.</summary>
    Task<ScheduleState?> GetAsync(string name, CancellationToken cancellationToken);

    /// <summary>
    /// Claims <paramref name="tick"/> for the caller, atomically: records it as the schedule's last tick (and
    /// <paramref name="claimedAt"/> as when it fired) and returns true, only when the schedule is not paused and its
    /// last tick is absent or earlier than <paramref name="tick"/>. Otherwise changes nothing and returns false (another
    /// host fired this tick or a later one, or the schedule is paused). Creates the record when there is none.
    /// </summary>
    Task<bool> TryClaimAsync(string name, DateTimeOffset tick, DateTimeOffset claimedAt, CancellationToken cancellationToken);

    /// <summary>
    /// Records <paramref name="definition"/> as the schedule's definition (creating the record when there is none,
    /// replacing an earlier definition otherwise). The last tick, the paused flag and the resume time are kept.
    /// An endpoint calls this for each of its schedules when it starts.
    /// </summary>
    Task RegisterAsync(string name, ScheduleDefinition definition, CancellationToken cancellationToken);

    /// <summary>Every record in the store, ordered by name: those registered by any endpoint sharing the store, and those
    /// of schedules no longer in any endpoint's code (their <see cref="ScheduleDefinition.RegisteredAt"/> grows old).</summary>
    Task<IReadOnlyList<ScheduleState>> ListAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the schedule's record (its definition, last tick, pause and resume time) and returns true, or returns false
    /// when there is none. For records of schedules removed from the code, which are never deleted automatically.
    /// </summary>
    /// <remarks>An endpoint that still has the schedule goes on running it: its next claim makes a new record (without
    /// the pause, and without a definition until the endpoint starts again and registers it).</remarks>
    Task<bool> RemoveAsync(string name, CancellationToken cancellationToken);

    /// <summary>Pauses or resumes the schedule (creating its record when there is none); resuming a paused
    /// schedule records <paramref name="at"/> as <see cref="ScheduleState.ResumedAt"/> (resuming one that is not paused
    /// changes nothing). The last tick is kept either way.</summary>
    Task SetPausedAsync(string name, bool paused, DateTimeOffset at, CancellationToken cancellationToken);
}

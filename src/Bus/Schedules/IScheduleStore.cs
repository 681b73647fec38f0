namespace Bus.Schedules;

/// <summary>
/// What the store remembers of one recurring schedule: the last tick fired, and whether it is paused.
/// </summary>
/// <param name="Name">The schedule's name.</param>
/// <param name="LastTick">The last tick that was claimed (and so fired), UTC; null when none was yet.</param>
/// <param name="LastFiredAt">When that tick was claimed (later than the tick after downtime), UTC; null when none.</param>
/// <param name="Paused">Whether the schedule is paused: no tick is claimed while it is.</param>
/// <param name="ResumedAt">When it was last resumed, UTC; ticks before this (those during the pause) never fire.</param>
public sealed record ScheduleState(string Name, DateTimeOffset? LastTick, DateTimeOffset? LastFiredAt, bool Paused, DateTimeOffset? ResumedAt);

/// <summary>
/// Where recurring schedules claim their ticks, so that a tick fires once however many hosts run the schedule. A store
/// shared by those hosts (SQLite on one machine; DynamoDB, Azure Tables, PostgreSQL or another shared store on
/// several) is what makes that hold; the in-memory store is per host.
/// </summary>
/// <remarks>
/// An implementation keeps one record per schedule name and needs one atomic conditional write:
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

    /// <summary>Pauses or resumes the schedule (creating its record when there is none); resuming a paused
    /// schedule records <paramref name="at"/> as <see cref="ScheduleState.ResumedAt"/> (resuming one that is not paused
    /// changes nothing). The last tick is kept either way.</summary>
    Task SetPausedAsync(string name, bool paused, DateTimeOffset at, CancellationToken cancellationToken);
}

namespace Bus.Schedules;

/// <summary>What happens to ticks that passed while no host ran the schedule.</summary>
public enum MissedTicks
{
    /// <summary>The latest missed tick fires once when a host starts again (however many were missed). Default.</summary>
    FireOnce,

    /// <summary>Missed ticks are skipped: the schedule fires again at its next tick after a host starts.</summary>
    Skip,
}

/// <summary>Settings of one recurring schedule (<c>bus.Schedule&lt;T&gt;(...)</c>).</summary>
public sealed class ScheduleOptions
{
    /// <summary>The schedule's name: its identity in the schedule store, in <see cref="ISchedules"/> and in the ids of the
    /// messages it sends. Default: the message type's wire name. Set one when a type is scheduled more than once.
    /// 1-100 letters, digits, '.', '-', '_' or ':'.</summary>
    public string? Name { get; set; }

    /// <summary>What happens to ticks missed while no host ran. Default <see cref="MissedTicks.FireOnce"/>.</summary>
    public MissedTicks Missed { get; set; } = MissedTicks.FireOnce;
}

namespace Bus.PostgreSql.Schema;

/// <summary>The schedule store's table, a component of its own (versioned apart from the transport's tables).</summary>
internal static partial class Migrations
{
    public const string SchedulesComponent = "schedules";

    public static readonly IReadOnlyList<string> Schedules =
    [
        """
        CREATE TABLE {schema}.schedules (
            name          text    NOT NULL PRIMARY KEY,
            last_tick     bigint  NULL,                 -- UTC ticks of the last tick claimed
            last_fired_at bigint  NULL,                 -- UTC ticks of when it was claimed
            paused        boolean NOT NULL DEFAULT false,
            resumed_at    bigint  NULL                  -- UTC ticks of the last resume
        );
        """,
    ];
}

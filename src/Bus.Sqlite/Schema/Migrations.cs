namespace Bus.Sqlite.Schema;

/// <summary>
/// The schema of each component, as numbered migrations (index + 1 = version). Append new migrations; never edit
/// a released one. Times used for scheduling are UTC ticks (INTEGER); other times are ISO 8601 text.
/// </summary>
internal static class Migrations
{
    public const string TransportComponent = "transport";
    public const string StepsComponent = "steps";
    public const string WorkflowsComponent = "workflows";
    public const string JobsComponent = "jobs";
    public const string SchedulesComponent = "schedules";

    public static readonly IReadOnlyList<string> Transport =
    [
        """
        CREATE TABLE bus_messages (
            id               INTEGER PRIMARY KEY AUTOINCREMENT,  -- also the FIFO sequence
            queue            TEXT    NOT NULL,
            message_id       TEXT    NOT NULL,
            headers          TEXT    NOT NULL,                   -- JSON object of string headers
            body             BLOB    NOT NULL,
            visible_at       INTEGER NOT NULL,                   -- UTC ticks; while leased, the lease expiry
            lease_token      TEXT    NULL,
            lease_expires_at INTEGER NULL,                       -- UTC ticks
            receive_count    INTEGER NOT NULL DEFAULT 0,
            enqueued_at      INTEGER NOT NULL                    -- UTC ticks
        );
        CREATE INDEX ix_bus_messages_receive ON bus_messages (queue, visible_at, id);

        CREATE TABLE bus_queues (
            name       TEXT NOT NULL PRIMARY KEY,
            created_at TEXT NOT NULL
        );

        CREATE TABLE bus_subscriptions (
            topic TEXT NOT NULL,
            queue TEXT NOT NULL,
            PRIMARY KEY (topic, queue)
        );

        CREATE TABLE bus_dead_letters (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            queue         TEXT    NOT NULL,
            message_id    TEXT    NOT NULL,
            headers       TEXT    NOT NULL,                      -- original headers plus bus-failure-* headers
            body          BLOB    NOT NULL,
            receive_count INTEGER NOT NULL,
            failed_at     INTEGER NOT NULL                       -- UTC ticks
        );
        CREATE INDEX ix_bus_dead_letters_queue ON bus_dead_letters (queue, id);
        CREATE INDEX ix_bus_dead_letters_message ON bus_dead_letters (queue, message_id);
        """,
        """
        -- Priority (0 to 9, from the bus-priority header). The claim walks each priority from 9 down with
        -- `priority IN (9, ..., 0)`: a seek per priority, then due rows in (visible_at, id) order, so delayed rows of a
        -- high priority are never scanned; MIN(visible_at) is a seek per priority too. It replaces the old index.
        ALTER TABLE bus_messages ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
        DROP INDEX ix_bus_messages_receive;
        CREATE INDEX ix_bus_messages_receive ON bus_messages (queue, priority DESC, visible_at, id);
        """,
    ];

    public static readonly IReadOnlyList<string> Steps =
    [
        """
        CREATE TABLE bus_steps (
            seq         INTEGER PRIMARY KEY AUTOINCREMENT,           -- the order steps finished in
            job_id      TEXT    NOT NULL,
            step_name   TEXT    NOT NULL,
            result_json TEXT    NOT NULL,
            finished_at TEXT    NOT NULL,
            UNIQUE (job_id, step_name)
        );
        """,
    ];

    public static readonly IReadOnlyList<string> Workflows =
    [
        """
        CREATE TABLE bus_workflows (
            workflow_name     TEXT    NOT NULL,
            id                TEXT    NOT NULL,
            correlation_value TEXT    NULL,
            version           INTEGER NOT NULL,
            status            TEXT    NOT NULL,
            state_json        TEXT    NOT NULL,
            history_json      TEXT    NOT NULL,
            created_at        TEXT    NOT NULL,
            updated_at        TEXT    NOT NULL,
            failure_reason    TEXT    NULL,
            PRIMARY KEY (workflow_name, id)
        );
        CREATE UNIQUE INDEX ux_bus_workflows_correlation ON bus_workflows (workflow_name, correlation_value);
        """,
    ];

    public static readonly IReadOnlyList<string> Jobs =
    [
        """
        CREATE TABLE bus_jobs (
            message_id   TEXT    NOT NULL PRIMARY KEY,
            message_type TEXT    NOT NULL,
            state        TEXT    NOT NULL,
            done         INTEGER NOT NULL,
            total        INTEGER NOT NULL,
            attempt      INTEGER NOT NULL,
            updated_at   INTEGER NOT NULL,                      -- UTC ticks
            result_json  TEXT    NULL
        );
        CREATE INDEX ix_bus_jobs_state ON bus_jobs (state, updated_at);
        """,
    ];

    public static readonly IReadOnlyList<string> Schedules =
    [
        """
        CREATE TABLE bus_schedules (
            name          TEXT    NOT NULL PRIMARY KEY,
            last_tick     INTEGER NULL,                          -- UTC ticks of the last tick claimed
            last_fired_at INTEGER NULL,                          -- UTC ticks
            paused        INTEGER NOT NULL DEFAULT 0,
            resumed_at    INTEGER NULL                           -- UTC ticks
        );
        """,
    ];
}

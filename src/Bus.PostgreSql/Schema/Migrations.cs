namespace Bus.PostgreSql.Schema;

/// <summary>
/// The schema of each component, as numbered migrations (index + 1 = version), written against the placeholder
/// schema <c>{schema}</c>. Append new migrations; never edit a released one. Times used for scheduling are UTC ticks
/// (bigint, exact on any <see cref="TimeProvider"/>); other times are <c>timestamptz</c>.
/// </summary>
internal static partial class Migrations
{
    public const string TransportComponent = "transport";
    public const string StepsComponent = "steps";
    public const string WorkflowsComponent = "workflows";
    public const string JobsComponent = "jobs";

    public static readonly IReadOnlyList<string> Transport =
    [
        """
        CREATE TABLE {schema}.messages (
            id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- also the FIFO sequence
            queue         text   NOT NULL,
            message_id    text   NOT NULL,
            headers       jsonb  NOT NULL,                                  -- object of string headers
            body          bytea  NOT NULL,
            visible_at    bigint NOT NULL,        -- UTC ticks; while leased, the lease's expiry
            lease_token   uuid   NULL,            -- set by each receive; settling needs the current one
            receive_count integer NOT NULL DEFAULT 0,
            enqueued_at   timestamptz NOT NULL
        );
        CREATE INDEX ix_messages_receive ON {schema}.messages (queue, visible_at, id);

        CREATE TABLE {schema}.queues (
            name       text        NOT NULL PRIMARY KEY,
            created_at timestamptz NOT NULL
        );

        CREATE TABLE {schema}.subscriptions (
            topic text NOT NULL,
            queue text NOT NULL,
            PRIMARY KEY (topic, queue)
        );

        CREATE TABLE {schema}.dead_letters (
            id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            queue             text        NOT NULL,
            message_id        text        NOT NULL,
            headers           jsonb       NOT NULL,                         -- the original headers
            body              bytea       NOT NULL,
            receive_count     integer     NOT NULL,
            reason            text        NOT NULL,
            exception_type    text        NULL,
            exception_message text        NULL,
            stack_trace       text        NULL,
            attempts          integer     NOT NULL,
            source_queue      text        NOT NULL,
            failed_at         timestamptz NOT NULL
        );
        CREATE INDEX ix_dead_letters_queue ON {schema}.dead_letters (queue, id);
        CREATE INDEX ix_dead_letters_message ON {schema}.dead_letters (queue, message_id);
        """,
        """
        -- Priority (0 to 9, from the bus-priority header). The claim and the next due time visit each priority from 9
        -- down (a lateral index seek per priority, then due rows in (visible_at, id) order), so delayed rows of a high
        -- priority are never walked. The index replaces the old one.
        ALTER TABLE {schema}.messages ADD COLUMN priority smallint NOT NULL DEFAULT 0;
        DROP INDEX {schema}.ix_messages_receive;
        CREATE INDEX ix_messages_receive ON {schema}.messages (queue, priority DESC, visible_at, id);
        """,
    ];

    public static readonly IReadOnlyList<string> Steps =
    [
        """
        CREATE TABLE {schema}.steps (
            seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,    -- the order steps finished in
            job_id      text        NOT NULL,
            step_name   text        NOT NULL,
            result_json text        NOT NULL,
            finished_at timestamptz NOT NULL,
            UNIQUE (job_id, step_name)
        );
        """,
    ];

    public static readonly IReadOnlyList<string> Workflows =
    [
        """
        CREATE TABLE {schema}.workflows (
            workflow_name     text    NOT NULL,
            id                text    NOT NULL,
            correlation_value text    NULL,
            version           bigint  NOT NULL,
            status            text    NOT NULL,
            state_json        text    NOT NULL,
            history_json      text    NOT NULL,
            created_at        text    NOT NULL,   -- ISO 8601 with the offset as given
            updated_at        text    NOT NULL,
            failure_reason    text    NULL,
            PRIMARY KEY (workflow_name, id)
        );
        CREATE UNIQUE INDEX ux_workflows_correlation ON {schema}.workflows (workflow_name, correlation_value);
        """,
    ];

    public static readonly IReadOnlyList<string> Jobs =
    [
        """
        CREATE TABLE {schema}.jobs (
            message_id   text    NOT NULL PRIMARY KEY,
            message_type text    NOT NULL,
            state        text    NOT NULL,
            done         bigint  NOT NULL,
            total        bigint  NOT NULL,
            attempt      integer NOT NULL,
            updated_at   bigint  NOT NULL,            -- UTC ticks
            result_json  text    NULL
        );
        CREATE INDEX ix_jobs_state ON {schema}.jobs (state, updated_at);
        """,
    ];
}

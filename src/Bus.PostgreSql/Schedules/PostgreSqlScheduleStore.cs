using Bus.PostgreSql.Schema;
using Bus.Schedules;
using Npgsql;

namespace Bus.PostgreSql;

/// <summary>
/// A schedule store on PostgreSQL (table <c>{schema}.schedules</c>, a row per schedule): every host using the database
/// fires each tick of a schedule once, and pausing holds for all of them. A claim is one conditional upsert.
/// </summary>
public sealed class PostgreSqlScheduleStore : IScheduleStore, IAsyncDisposable
{
    private readonly PostgreSqlDatabase _database;

    /// <summary>Creates a store over <paramref name="schema"/> of the database the Npgsql connection string names.
    /// Nothing is opened until first use; the table is created or migrated then.</summary>
    /// <param name="connectionString">E.g. <c>Host=db;Database=app;Username=bus;Password=...</c>.</param>
    /// <param name="schema">The schema of Bus's tables, e.g. the transport's. Default <c>bus</c>.</param>
    /// <exception cref="ArgumentException">The connection string or schema name is not valid.</exception>
    public PostgreSqlScheduleStore(string connectionString, string schema = "bus") =>
        _database = new PostgreSqlDatabase(connectionString, schema);

    /// <inheritdoc />
    public async Task<ScheduleState?> GetAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var query = _database.Command(
            connection, null, "SELECT last_tick, last_fired_at, paused, resumed_at FROM {schema}.schedules WHERE name = @name;");
        query.Parameters.AddWithValue("name", name);
        await using var reader = await query.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return new ScheduleState(name, Time(reader, 0), Time(reader, 1), reader.GetBoolean(2), Time(reader, 3));
    }

    /// <inheritdoc />
    /// <remarks>One statement: an insert that, when the row exists, updates it only when the schedule is not paused and
    /// its last tick is earlier. Racing hosts are serialised on the row; the loser's update finds the condition false
    /// and affects no row.</remarks>
    public async Task<bool> TryClaimAsync(string name, DateTimeOffset tick, DateTimeOffset claimedAt, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var claim = _database.Command(
            connection,
            null,
            """
            INSERT INTO {schema}.schedules AS s (name, last_tick, last_fired_at) VALUES (@name, @tick, @at)
            ON CONFLICT (name) DO UPDATE SET last_tick = excluded.last_tick, last_fired_at = excluded.last_fired_at
             WHERE NOT s.paused AND (s.last_tick IS NULL OR s.last_tick < excluded.last_tick);
            """);
        claim.Parameters.AddWithValue("name", name);
        claim.Parameters.AddWithValue("tick", tick.UtcTicks);
        claim.Parameters.AddWithValue("at", claimedAt.UtcTicks);
        return await claim.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task SetPausedAsync(string name, bool paused, DateTimeOffset at, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var set = _database.Command(
            connection,
            null,
            paused
                ? "INSERT INTO {schema}.schedules AS s (name, paused) VALUES (@name, true) ON CONFLICT (name) DO UPDATE SET paused = true;"
                : """
                  INSERT INTO {schema}.schedules AS s (name, paused) VALUES (@name, false)
                  ON CONFLICT (name) DO UPDATE SET paused = false, resumed_at = @at WHERE s.paused;
                  """);
        set.Parameters.AddWithValue("name", name);
        set.Parameters.AddWithValue("at", at.UtcTicks);
        await set.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates or migrates the table now (at start-up), so a bad configuration stops the host.</summary>
    internal Task EnsureSchemaAsync(CancellationToken cancellationToken) =>
        _database.EnsureSchemaAsync(Migrations.SchedulesComponent, Migrations.Schedules, cancellationToken);

    /// <summary>Closes the pooled connections. The records stay in the database.</summary>
    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private static DateTimeOffset? Time(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : new DateTimeOffset(reader.GetInt64(ordinal), TimeSpan.Zero);

    private Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) =>
        _database.OpenAsync(Migrations.SchedulesComponent, Migrations.Schedules, cancellationToken);
}

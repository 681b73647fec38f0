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
        await using var query = _database.Command(connection, null, $"SELECT {Columns} FROM {{schema}}.schedules WHERE name = @name;");
        query.Parameters.AddWithValue("name", name);
        await using var reader = await query.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return Read(reader);
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
    public async Task RegisterAsync(string name, ScheduleDefinition definition, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(definition);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var register = _database.Command(
            connection,
            null,
            """
            INSERT INTO {schema}.schedules AS s (name, message_type, cron, time_zone, missed, registered_at)
            VALUES (@name, @type, @cron, @zone, @missed, @at)
            ON CONFLICT (name) DO UPDATE SET message_type = excluded.message_type, cron = excluded.cron, time_zone = excluded.time_zone,
                missed = excluded.missed, registered_at = excluded.registered_at;
            """);
        register.Parameters.AddWithValue("name", name);
        register.Parameters.AddWithValue("type", definition.MessageType);
        register.Parameters.AddWithValue("cron", definition.Cron);
        register.Parameters.AddWithValue("zone", definition.TimeZone);
        register.Parameters.AddWithValue("missed", definition.Missed.ToString());
        register.Parameters.AddWithValue("at", definition.RegisteredAt.UtcTicks);
        await register.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ScheduleState>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var query = _database.Command(connection, null, $"SELECT {Columns} FROM {{schema}}.schedules ORDER BY name COLLATE \"C\";");
        await using var reader = await query.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<ScheduleState>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(Read(reader));
        }

        return list;
    }

    /// <inheritdoc />
    public async Task<bool> RemoveAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var remove = _database.Command(connection, null, "DELETE FROM {schema}.schedules WHERE name = @name;");
        remove.Parameters.AddWithValue("name", name);
        return await remove.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
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

    private const string Columns = "last_tick, last_fired_at, paused, resumed_at, message_type, cron, time_zone, missed, registered_at, name";

    private static ScheduleState Read(NpgsqlDataReader reader)
    {
        var definition = reader.IsDBNull(5)
            ? null
            : new ScheduleDefinition(
                reader.GetString(4), reader.GetString(5), reader.GetString(6),
                Enum.TryParse<MissedTicks>(reader.GetString(7), out var missed) ? missed : MissedTicks.FireOnce, Time(reader, 8)!.Value);
        return new ScheduleState(reader.GetString(9), Time(reader, 0), Time(reader, 1), reader.GetBoolean(2), Time(reader, 3), definition);
    }

    private static DateTimeOffset? Time(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : new DateTimeOffset(reader.GetInt64(ordinal), TimeSpan.Zero);

    private Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) =>
        _database.OpenAsync(Migrations.SchedulesComponent, Migrations.Schedules, cancellationToken);
}

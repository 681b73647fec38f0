using Bus.Schedules;
using Bus.Sqlite.Schema;
using Microsoft.Data.Sqlite;

namespace Bus.Sqlite;

/// <summary>
/// A durable schedule store in a SQLite database file (table <c>bus_schedules</c>, a row per schedule): every process
/// using the file fires each tick of a schedule once. A claim is one conditional upsert.
/// </summary>
public sealed class SqliteScheduleStore : IScheduleStore, IDisposable
{
    private readonly SqliteDatabase _database;

    /// <summary>Creates a store over the database file a Microsoft.Data.Sqlite connection string names. Nothing is
    /// opened until first use.</summary>
    /// <param name="connectionString">Names a database file; in-memory databases are rejected.</param>
    /// <exception cref="ArgumentException">The connection string is empty or names no file.</exception>
    public SqliteScheduleStore(string connectionString) => _database = new SqliteDatabase(connectionString);

    /// <summary>Creates a store over the database file at <paramref name="databasePath"/> (created with its folder on
    /// first use).</summary>
    /// <exception cref="ArgumentException">The path is empty.</exception>
    public static SqliteScheduleStore ForFile(string databasePath) => new(SqliteDatabase.ForPath(databasePath));

    /// <inheritdoc />
    public async Task<ScheduleState?> GetAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var query = Sql.Command(connection, null, $"SELECT {Columns} FROM bus_schedules WHERE name = $name;");
        query.Parameters.AddWithValue("$name", name);
        await using var reader = await query.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return Read(reader);
    }

    /// <inheritdoc />
    public async Task<bool> TryClaimAsync(string name, DateTimeOffset tick, DateTimeOffset claimedAt, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var claim = Sql.Command(
            connection,
            null,
            """
            INSERT INTO bus_schedules (name, last_tick, last_fired_at) VALUES ($name, $tick, $at)
            ON CONFLICT (name) DO UPDATE SET last_tick = excluded.last_tick, last_fired_at = excluded.last_fired_at
            WHERE bus_schedules.paused = 0 AND (bus_schedules.last_tick IS NULL OR bus_schedules.last_tick < excluded.last_tick);
            """);
        claim.Parameters.AddWithValue("$name", name);
        claim.Parameters.AddWithValue("$tick", tick.UtcTicks);
        claim.Parameters.AddWithValue("$at", claimedAt.UtcTicks);
        return await claim.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task RegisterAsync(string name, ScheduleDefinition definition, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(definition);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var register = Sql.Command(
            connection,
            null,
            """
            INSERT INTO bus_schedules (name, message_type, cron, time_zone, missed, registered_at)
            VALUES ($name, $type, $cron, $zone, $missed, $at)
            ON CONFLICT (name) DO UPDATE SET message_type = excluded.message_type, cron = excluded.cron, time_zone = excluded.time_zone,
                missed = excluded.missed, registered_at = excluded.registered_at;
            """);
        register.Parameters.AddWithValue("$name", name);
        register.Parameters.AddWithValue("$type", definition.MessageType);
        register.Parameters.AddWithValue("$cron", definition.Cron);
        register.Parameters.AddWithValue("$zone", definition.TimeZone);
        register.Parameters.AddWithValue("$missed", definition.Missed.ToString());
        register.Parameters.AddWithValue("$at", definition.RegisteredAt.UtcTicks);
        await register.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ScheduleState>> ListAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var query = Sql.Command(connection, null, $"SELECT {Columns} FROM bus_schedules ORDER BY name;");
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
        await using var remove = Sql.Command(connection, null, "DELETE FROM bus_schedules WHERE name = $name;");
        remove.Parameters.AddWithValue("$name", name);
        return await remove.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc />
    public async Task SetPausedAsync(string name, bool paused, DateTimeOffset at, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var set = Sql.Command(
            connection,
            null,
            paused
                ? "INSERT INTO bus_schedules (name, paused) VALUES ($name, 1) ON CONFLICT (name) DO UPDATE SET paused = 1;"
                : """
                  INSERT INTO bus_schedules (name, paused) VALUES ($name, 0)
                  ON CONFLICT (name) DO UPDATE SET paused = 0, resumed_at = $at WHERE bus_schedules.paused = 1;
                  """);
        set.Parameters.AddWithValue("$name", name);
        set.Parameters.AddWithValue("$at", at.UtcTicks);
        await set.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Lets the pooled connections to the file go. The records stay in the file.</summary>
    public void Dispose() => _database.ReleasePooledConnections();

    private const string Columns = "last_tick, last_fired_at, paused, resumed_at, message_type, cron, time_zone, missed, registered_at, name";

    private static ScheduleState Read(SqliteDataReader reader)
    {
        var definition = reader.IsDBNull(5)
            ? null
            : new ScheduleDefinition(
                reader.GetString(4), reader.GetString(5), reader.GetString(6),
                Enum.TryParse<MissedTicks>(reader.GetString(7), out var missed) ? missed : MissedTicks.FireOnce, Time(reader, 8)!.Value);
        return new ScheduleState(reader.GetString(9), Time(reader, 0), Time(reader, 1), reader.GetInt64(2) != 0, Time(reader, 3), definition);
    }

    private static DateTimeOffset? Time(SqliteDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : new DateTimeOffset(reader.GetInt64(ordinal), TimeSpan.Zero);

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        await _database.EnsureSchemaAsync(Migrations.SchedulesComponent, Migrations.Schedules, cancellationToken).ConfigureAwait(false);
        return await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
    }
}

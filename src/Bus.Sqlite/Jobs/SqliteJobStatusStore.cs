using Bus.Jobs;
using Bus.Sqlite.Schema;
using Microsoft.Data.Sqlite;

namespace Bus.Sqlite;

/// <summary>
/// A durable job status store in a SQLite database file (table <c>bus_jobs</c>): the progress, final state and result
/// of jobs survive restarts and are read by every process using the file. The file may be the transport's.
/// </summary>
public sealed class SqliteJobStatusStore : IJobStatusStore, IDisposable
{
    private readonly SqliteDatabase _database;

    /// <summary>Creates a store over the database file a Microsoft.Data.Sqlite connection string names. Nothing is
    /// opened until first use.</summary>
    /// <param name="connectionString">Names a database file; in-memory databases are rejected.</param>
    /// <exception cref="ArgumentException">The connection string is empty or names no file.</exception>
    public SqliteJobStatusStore(string connectionString) => _database = new SqliteDatabase(connectionString);

    /// <summary>Creates a store over the database file at <paramref name="databasePath"/> (created with its folder on
    /// first use).</summary>
    /// <exception cref="ArgumentException">The path is empty.</exception>
    public static SqliteJobStatusStore ForFile(string databasePath) => new(SqliteDatabase.ForPath(databasePath));

    /// <inheritdoc />
    public async Task SaveAsync(JobStatus status, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(status);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var save = Sql.Command(
            connection,
            null,
            """
            INSERT INTO bus_jobs (message_id, message_type, state, done, total, attempt, updated_at, result_json)
            VALUES ($id, $type, $state, $done, $total, $attempt, $at, $result)
            ON CONFLICT (message_id) DO UPDATE SET
                message_type = excluded.message_type, state = excluded.state, done = excluded.done, total = excluded.total,
                attempt = excluded.attempt, updated_at = excluded.updated_at, result_json = excluded.result_json;
            """);
        save.Parameters.AddWithValue("$id", status.MessageId);
        save.Parameters.AddWithValue("$type", status.MessageType);
        save.Parameters.AddWithValue("$state", status.State.ToString());
        save.Parameters.AddWithValue("$done", status.Done);
        save.Parameters.AddWithValue("$total", status.Total);
        save.Parameters.AddWithValue("$attempt", status.Attempt);
        save.Parameters.AddWithValue("$at", status.UpdatedAt.UtcTicks);
        save.Parameters.AddWithValue("$result", (object?)status.ResultJson ?? DBNull.Value);
        await save.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<JobStatus?> GetAsync(string messageId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(messageId);
        var found = await QueryAsync("WHERE message_id = $id", command => command.Parameters.AddWithValue("$id", messageId), cancellationToken).ConfigureAwait(false);
        return found.Count == 0 ? null : found[0];
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<JobStatus>> ListAsync(JobState state, int max, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        return QueryAsync("WHERE state = $state ORDER BY updated_at DESC LIMIT $max", command =>
        {
            command.Parameters.AddWithValue("$state", state.ToString());
            command.Parameters.AddWithValue("$max", max);
        }, cancellationToken);
    }

    /// <summary>Lets the pooled connections to the file go. The statuses stay in the file.</summary>
    public void Dispose() => _database.ReleasePooledConnections();

    private async Task<IReadOnlyList<JobStatus>> QueryAsync(string where, Action<SqliteCommand> bind, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var query = Sql.Command(connection, null,
            $"SELECT message_id, message_type, state, done, total, attempt, updated_at, result_json FROM bus_jobs {where};");
        bind(query);
        var statuses = new List<JobStatus>();
        await using var reader = await query.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            statuses.Add(new JobStatus(
                reader.GetString(0),
                reader.GetString(1),
                Enum.Parse<JobState>(reader.GetString(2)),
                reader.GetInt64(3),
                reader.GetInt64(4),
                reader.GetInt32(5),
                new DateTimeOffset(reader.GetInt64(6), TimeSpan.Zero),
                reader.IsDBNull(7) ? null : reader.GetString(7)));
        }

        return statuses;
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        await _database.EnsureSchemaAsync(Migrations.JobsComponent, Migrations.Jobs, cancellationToken).ConfigureAwait(false);
        return await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
    }
}

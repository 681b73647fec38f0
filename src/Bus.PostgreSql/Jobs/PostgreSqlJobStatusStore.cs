using Bus.Jobs;
using Bus.PostgreSql.Schema;
using Npgsql;

namespace Bus.PostgreSql;

/// <summary>
/// A job status store on PostgreSQL (table <c>{schema}.jobs</c>): the progress, final state and result of jobs are
/// read by every host using the database, so any host answers <see cref="IJobStatusQuery"/> for any job.
/// </summary>
public sealed class PostgreSqlJobStatusStore : IJobStatusStore, IAsyncDisposable
{
    private readonly PostgreSqlDatabase _database;

    /// <summary>Creates a store over <paramref name="schema"/> of the database the Npgsql connection string names.
    /// Nothing is opened until first use; the table is created or migrated then.</summary>
    /// <param name="connectionString">E.g. <c>Host=db;Database=app;Username=bus;Password=...</c>.</param>
    /// <param name="schema">The schema of Bus's tables, e.g. the transport's. Default <c>bus</c>.</param>
    /// <exception cref="ArgumentException">The connection string or schema name is not valid.</exception>
    public PostgreSqlJobStatusStore(string connectionString, string schema = "bus") =>
        _database = new PostgreSqlDatabase(connectionString, schema);

    /// <inheritdoc />
    public async Task SaveAsync(JobStatus status, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(status);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var save = _database.Command(
            connection,
            null,
            """
            INSERT INTO {schema}.jobs (message_id, message_type, state, done, total, attempt, updated_at, result_json)
            VALUES (@id, @type, @state, @done, @total, @attempt, @at, @result)
            ON CONFLICT (message_id) DO UPDATE SET
                message_type = excluded.message_type, state = excluded.state, done = excluded.done, total = excluded.total,
                attempt = excluded.attempt, updated_at = excluded.updated_at, result_json = excluded.result_json;
            """);
        save.Parameters.AddWithValue("id", status.MessageId);
        save.Parameters.AddWithValue("type", status.MessageType);
        save.Parameters.AddWithValue("state", status.State.ToString());
        save.Parameters.AddWithValue("done", status.Done);
        save.Parameters.AddWithValue("total", status.Total);
        save.Parameters.AddWithValue("attempt", status.Attempt);
        save.Parameters.AddWithValue("at", status.UpdatedAt.UtcTicks);
        save.Parameters.AddWithValue("result", NpgsqlTypes.NpgsqlDbType.Text, (object?)status.ResultJson ?? DBNull.Value);
        await save.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<JobStatus?> GetAsync(string messageId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(messageId);
        var found = await QueryAsync("WHERE message_id = @id", command => command.Parameters.AddWithValue("id", messageId), cancellationToken)
            .ConfigureAwait(false);
        return found.Count == 0 ? null : found[0];
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<JobStatus>> ListAsync(JobState state, int max, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        return QueryAsync("WHERE state = @state ORDER BY updated_at DESC LIMIT @max", command =>
        {
            command.Parameters.AddWithValue("state", state.ToString());
            command.Parameters.AddWithValue("max", max);
        }, cancellationToken);
    }

    /// <summary>Creates or migrates the table now (at start-up), so a bad configuration stops the host.</summary>
    internal Task EnsureSchemaAsync(CancellationToken cancellationToken) =>
        _database.EnsureSchemaAsync(Migrations.JobsComponent, Migrations.Jobs, cancellationToken);

    /// <summary>Closes the pooled connections. The statuses stay in the database.</summary>
    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private async Task<IReadOnlyList<JobStatus>> QueryAsync(string where, Action<NpgsqlCommand> bind, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var query = _database.Command(
            connection, null, $"SELECT message_id, message_type, state, done, total, attempt, updated_at, result_json FROM {{schema}}.jobs {where};");
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

    private Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) =>
        _database.OpenAsync(Migrations.JobsComponent, Migrations.Jobs, cancellationToken);
}

using Bus.PostgreSql.Schema;
using Bus.Steps;
using Npgsql;

namespace Bus.PostgreSql;

/// <summary>
/// A step store on PostgreSQL (table <c>{schema}.steps</c>): finished steps are shared by every host using the database,
/// whatever transport they receive from. The first saved result of a step wins.
/// </summary>
public sealed class PostgreSqlStepStore : IStepStore, IAsyncDisposable
{
    private readonly PostgreSqlDatabase _database;
    private readonly TimeProvider _time;

    /// <summary>Creates a store over <paramref name="schema"/> of the database the Npgsql connection string names.
    /// Nothing is opened until first use; the table is created or migrated then.</summary>
    /// <param name="connectionString">E.g. <c>Host=db;Database=app;Username=bus;Password=...</c>.</param>
    /// <param name="schema">The schema of Bus's tables, e.g. the transport's. Default <c>bus</c>.</param>
    /// <param name="timeProvider">The clock for the finished-at times; <see cref="TimeProvider.System"/> when null.</param>
    /// <exception cref="ArgumentException">The connection string or schema name is not valid.</exception>
    public PostgreSqlStepStore(string connectionString, string schema = "bus", TimeProvider? timeProvider = null)
    {
        _database = new PostgreSqlDatabase(connectionString, schema);
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public async Task<string?> GetAsync(string jobId, string stepName, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentException.ThrowIfNullOrEmpty(stepName);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var get = _database.Command(connection, null, "SELECT result_json FROM {schema}.steps WHERE job_id = @job AND step_name = @step;");
        get.Parameters.AddWithValue("job", jobId);
        get.Parameters.AddWithValue("step", stepName);
        return await get.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
    }

    /// <inheritdoc />
    public async Task SaveAsync(string jobId, string stepName, string resultJson, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentException.ThrowIfNullOrEmpty(stepName);
        ArgumentNullException.ThrowIfNull(resultJson);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var save = _database.Command(
            connection,
            null,
            """
            INSERT INTO {schema}.steps (job_id, step_name, result_json, finished_at) VALUES (@job, @step, @result, @at)
            ON CONFLICT (job_id, step_name) DO NOTHING;
            """);
        save.Parameters.AddWithValue("job", jobId);
        save.Parameters.AddWithValue("step", stepName);
        save.Parameters.AddWithValue("result", resultJson);
        save.Parameters.AddWithValue("at", _time.GetUtcNow().ToUniversalTime());
        await save.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> DeleteJobsFinishedBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var delete = _database.Command(
            connection,
            null,
            """
            DELETE FROM {schema}.steps WHERE job_id IN (
                SELECT job_id FROM {schema}.steps GROUP BY job_id HAVING max(finished_at) < @cutoff);
            """);
        delete.Parameters.AddWithValue("cutoff", cutoff.ToUniversalTime());
        return await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> ListAsync(string jobId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var list = _database.Command(connection, null, "SELECT step_name FROM {schema}.steps WHERE job_id = @job ORDER BY seq;");
        list.Parameters.AddWithValue("job", jobId);
        var steps = new List<string>();
        await using var reader = await list.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            steps.Add(reader.GetString(0));
        }

        return steps;
    }

    /// <summary>Creates or migrates the table now (at start-up), so a bad configuration stops the host.</summary>
    internal Task EnsureSchemaAsync(CancellationToken cancellationToken) =>
        _database.EnsureSchemaAsync(Migrations.StepsComponent, Migrations.Steps, cancellationToken);

    /// <summary>Closes the pooled connections. The steps stay in the database.</summary>
    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) =>
        _database.OpenAsync(Migrations.StepsComponent, Migrations.Steps, cancellationToken);
}

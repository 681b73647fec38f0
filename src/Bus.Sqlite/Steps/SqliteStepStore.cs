using System.Globalization;
using Bus.Sqlite.Schema;
using Bus.Steps;

namespace Bus.Sqlite;

/// <summary>
/// A durable step store in a SQLite database file (table <c>bus_steps</c>): finished steps survive process restarts
/// and are shared by every process using the file. The first saved result of a step wins. The file may be the
/// transport's.
/// </summary>
public sealed class SqliteStepStore : IStepStore, IDisposable
{
    private readonly SqliteDatabase _database;
    private readonly TimeProvider _time;

    /// <summary>Creates a store over the database file a Microsoft.Data.Sqlite connection string names
    /// (e.g. <c>Data Source=data/bus.db</c>). Nothing is opened until first use.</summary>
    /// <param name="connectionString">Names a database file; in-memory databases are rejected.</param>
    /// <param name="timeProvider">The clock for the finished-at times; <see cref="TimeProvider.System"/> when null.</param>
    /// <exception cref="ArgumentException">The connection string is empty or names no file.</exception>
    public SqliteStepStore(string connectionString, TimeProvider? timeProvider = null)
    {
        _database = new SqliteDatabase(connectionString);
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Creates a store over the database file at <paramref name="databasePath"/> (created with its folder on first use).</summary>
    /// <exception cref="ArgumentException">The path is empty.</exception>
    public static SqliteStepStore ForFile(string databasePath, TimeProvider? timeProvider = null) =>
        new(SqliteDatabase.ForPath(databasePath), timeProvider);

    /// <inheritdoc />
    public async Task<string?> GetAsync(string jobId, string stepName, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentException.ThrowIfNullOrEmpty(stepName);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var get = Sql.Command(connection, null, "SELECT result_json FROM bus_steps WHERE job_id = $job AND step_name = $step;");
        get.Parameters.AddWithValue("$job", jobId);
        get.Parameters.AddWithValue("$step", stepName);
        return await get.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
    }

    /// <inheritdoc />
    public async Task SaveAsync(string jobId, string stepName, string resultJson, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentException.ThrowIfNullOrEmpty(stepName);
        ArgumentNullException.ThrowIfNull(resultJson);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var save = Sql.Command(
            connection,
            null,
            """
            INSERT INTO bus_steps (job_id, step_name, result_json, finished_at) VALUES ($job, $step, $result, $at)
            ON CONFLICT (job_id, step_name) DO NOTHING;
            """);
        save.Parameters.AddWithValue("$job", jobId);
        save.Parameters.AddWithValue("$step", stepName);
        save.Parameters.AddWithValue("$result", resultJson);
        save.Parameters.AddWithValue("$at", _time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture));
        await save.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<int> DeleteJobsFinishedBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var delete = Sql.Command(
            connection,
            null,
            """
            DELETE FROM bus_steps WHERE job_id IN (
                SELECT job_id FROM bus_steps GROUP BY job_id HAVING MAX(finished_at) < $cutoff);
            """);
        delete.Parameters.AddWithValue("$cutoff", cutoff.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
        return await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> ListAsync(string jobId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var list = Sql.Command(connection, null, "SELECT step_name FROM bus_steps WHERE job_id = $job ORDER BY seq;");
        list.Parameters.AddWithValue("$job", jobId);
        var steps = new List<string>();
        await using var reader = await list.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            steps.Add(reader.GetString(0));
        }

        return steps;
    }

    /// <summary>Lets the pooled connections to the file go. The steps stay in the file.</summary>
    public void Dispose() => _database.ReleasePooledConnections();

    private async Task<Microsoft.Data.Sqlite.SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        await _database.EnsureSchemaAsync(Migrations.StepsComponent, Migrations.Steps, cancellationToken).ConfigureAwait(false);
        return await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
    }
}

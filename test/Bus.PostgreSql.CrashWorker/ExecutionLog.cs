using Bus.CrashTesting;
using Npgsql;

namespace Bus.PostgreSql.CrashWorker;

/// <summary>
/// The execution log in the test's schema (table <c>executions</c>), shared by every worker process.
/// </summary>
public sealed class ExecutionLog(string connectionString, string schema) : IExecutionLog
{
    private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(connectionString);

    /// <summary>Creates the table (once, before the workers start).</summary>
    public static async Task CreateAsync(string connectionString, string schema)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            $"""
            CREATE SCHEMA IF NOT EXISTS "{schema}";
            CREATE TABLE IF NOT EXISTS "{schema}".executions (
                seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                kind             text    NOT NULL,   -- 'start', 'step' or 'done'
                job              integer NOT NULL,
                step             text    NOT NULL,   -- '' for 'start' and 'done'
                attempt          integer NOT NULL,
                already_finished boolean NOT NULL,   -- the step store held the step as finished when it started
                pid              integer NOT NULL,
                at               timestamptz NOT NULL DEFAULT now()
            );
            """,
            connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <inheritdoc />
    public Task RecordStartAsync(int job, int attempt, CancellationToken cancellationToken) =>
        AppendAsync("start", job, string.Empty, attempt, alreadyFinished: false, cancellationToken);

    /// <inheritdoc />
    public Task RecordStepAsync(int job, string step, int attempt, bool alreadyFinished, CancellationToken cancellationToken) =>
        AppendAsync("step", job, step, attempt, alreadyFinished, cancellationToken);

    /// <inheritdoc />
    public Task RecordDoneAsync(int job, int attempt, CancellationToken cancellationToken) =>
        AppendAsync("done", job, string.Empty, attempt, alreadyFinished: false, cancellationToken);

    private async Task AppendAsync(string kind, int job, string step, int attempt, bool alreadyFinished, CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            $"""
            INSERT INTO "{schema}".executions (kind, job, step, attempt, already_finished, pid)
            VALUES (@kind, @job, @step, @attempt, @already, @pid);
            """);
        command.Parameters.AddWithValue("kind", kind);
        command.Parameters.AddWithValue("job", job);
        command.Parameters.AddWithValue("step", step);
        command.Parameters.AddWithValue("attempt", attempt);
        command.Parameters.AddWithValue("already", alreadyFinished);
        command.Parameters.AddWithValue("pid", Environment.ProcessId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

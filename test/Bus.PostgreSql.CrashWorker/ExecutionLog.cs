using Npgsql;

namespace Bus.PostgreSql.CrashWorker;

/// <summary>
/// An append-only log of step executions and job completions in the test's schema (table <c>executions</c>), shared by
/// every worker process, so the crash test can count what ran and what ran twice. Each row is committed before the
/// step works.
/// </summary>
public sealed class ExecutionLog(string connectionString, string schema)
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
                kind             text    NOT NULL,   -- 'step' or 'done'
                job              integer NOT NULL,
                step             text    NOT NULL,   -- '' for 'done'
                attempt          integer NOT NULL,
                already_finished boolean NOT NULL,   -- the step store held the step as finished when it started
                pid              integer NOT NULL,
                at               timestamptz NOT NULL DEFAULT now()
            );
            """,
            connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Records that a step started.</summary>
    public Task RecordStepAsync(int job, string step, int attempt, bool alreadyFinished, CancellationToken cancellationToken) =>
        AppendAsync("step", job, step, attempt, alreadyFinished, cancellationToken);

    /// <summary>Records that a job's handler finished (before its message is completed).</summary>
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

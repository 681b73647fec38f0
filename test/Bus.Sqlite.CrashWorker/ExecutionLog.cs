using System.Globalization;
using Bus.CrashTesting;
using Microsoft.Data.Sqlite;

namespace Bus.Sqlite.CrashWorker;

/// <summary>
/// The execution log in a SQLite file of its own (WAL), shared by every worker process.
/// </summary>
public sealed class ExecutionLog(string path) : IExecutionLog
{
    /// <summary>The schema: one row per handler start (kind 'start'), per started step execution (kind 'step') and per
    /// handler completion (kind 'done').</summary>
    public const string Schema =
        """
        CREATE TABLE IF NOT EXISTS executions (
            seq              INTEGER PRIMARY KEY AUTOINCREMENT,
            kind             TEXT    NOT NULL,   -- 'start', 'step' or 'done'
            job              INTEGER NOT NULL,
            step             TEXT    NOT NULL,   -- '' for 'start' and 'done'
            attempt          INTEGER NOT NULL,
            already_finished INTEGER NOT NULL,   -- 1 when the step store held the step as finished when it started
            pid              INTEGER NOT NULL,
            at               TEXT    NOT NULL
        );
        """;

    private readonly string _connectionString = ConnectionStringFor(path);

    /// <summary>The connection string of the log file at <paramref name="path"/>.</summary>
    public static string ConnectionStringFor(string path) => new SqliteConnectionStringBuilder
    {
        DataSource = Path.GetFullPath(path),
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();

    /// <summary>Creates the log file and table (once, before the workers start).</summary>
    public static async Task CreateAsync(string path)
    {
        await using var connection = new SqliteConnection(ConnectionStringFor(path));
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode = WAL;" + Schema;
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Records that a job's handler started, as attempt <paramref name="attempt"/>.</summary>
    public Task RecordStartAsync(int job, int attempt, CancellationToken cancellationToken) =>
        AppendAsync("start", job, string.Empty, attempt, alreadyFinished: false, cancellationToken);

    /// <summary>Records that a step started.</summary>
    public Task RecordStepAsync(int job, string step, int attempt, bool alreadyFinished, CancellationToken cancellationToken) =>
        AppendAsync("step", job, step, attempt, alreadyFinished, cancellationToken);

    /// <summary>Records that a job's handler finished (before its message is completed).</summary>
    public Task RecordDoneAsync(int job, int attempt, CancellationToken cancellationToken) =>
        AppendAsync("done", job, string.Empty, attempt, alreadyFinished: false, cancellationToken);

    private async Task AppendAsync(string kind, int job, string step, int attempt, bool alreadyFinished, CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText =
            """
            INSERT INTO executions (kind, job, step, attempt, already_finished, pid, at)
            VALUES ($kind, $job, $step, $attempt, $already, $pid, $at);
            """;
        command.Parameters.AddWithValue("$kind", kind);
        command.Parameters.AddWithValue("$job", job);
        command.Parameters.AddWithValue("$step", step);
        command.Parameters.AddWithValue("$attempt", attempt);
        command.Parameters.AddWithValue("$already", alreadyFinished ? 1 : 0);
        command.Parameters.AddWithValue("$pid", Environment.ProcessId);
        command.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

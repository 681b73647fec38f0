using Bus.CrashTesting;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace Bus.Sqlite.Tests;

/// <summary>Runs the crash tests alone: they start several processes and need the CPU to themselves.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CrashTestCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "SQLite crash tests (real processes)";
}

/// <summary>
/// Real-process crash test (the driver is test/Shared/CrashTests): worker processes (test/Bus.Sqlite.CrashWorker) share
/// one SQLite database and step store, and an execution log file; the test enqueues jobs, SIGKILLs a random worker
/// mid-step several times, restarts it, and proves from the workers' execution log and the database that every job
/// completed, none was lost, no finished step ran again, and the steps that ran twice are at most crashes ×
/// concurrency. Workers prefetch (3 × concurrency), and an attempt is counted when a handler starts: every attempt a job
/// reached is one its handler started, except at most the handlers a killed worker had begun but not yet logged
/// (crashes × concurrency), far fewer than the messages it held prefetched.
/// </summary>
[Collection(CrashTestCollection.Name)]
public sealed class CrashTests(ITestOutputHelper output) : IDisposable
{
    private static readonly CrashPlan Plan = new(Jobs: 300, WorkerCount: 3, Concurrency: 4, Crashes: 5);
    private readonly CrashRun _run = new(output, "Bus.Sqlite.CrashWorker", Plan);
    private readonly string _folder = Directory.CreateDirectory(
        Path.Combine(Path.GetTempPath(), "bus-crash-tests", Guid.NewGuid().ToString("N"))).FullName;

    private string DatabasePath => Path.Combine(_folder, "bus.db");

    private string LogPath => Path.Combine(_folder, "executions.db");

    [Fact]
    public async Task Workers_killed_mid_step_lose_no_job_and_never_rerun_a_finished_step()
    {
        await _run.RunAsync(["--db", DatabasePath, "--log", LogPath], _folder);

        _run.Check(await ReadCountsAsync());
    }

    public void Dispose()
    {
        _run.Dispose();
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS to clean; the folder is under the temp path.
        }
    }

    private async Task<CrashCounts> ReadCountsAsync()
    {
        await using var transport = new SqliteTransport(new SqliteTransportOptions { DatabasePath = DatabasePath });
        var messagesLeft = await transport.CountMessagesAsync(CrashRun.Queue);
        var deadLetters = await transport.CountDeadLettersAsync(CrashRun.Queue);

        var connectionString = new SqliteConnectionStringBuilder { DataSource = LogPath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString();
        await using var log = new SqliteConnection(connectionString);
        await log.OpenAsync();
        return new CrashCounts(
            JobsCompleted: await ScalarAsync(log, "SELECT COUNT(DISTINCT job) FROM executions WHERE kind = 'done';"),
            HandlerRuns: await ScalarAsync(log, "SELECT COUNT(*) FROM executions WHERE kind = 'done';"),
            HandlerStarts: await ScalarAsync(log, "SELECT COUNT(*) FROM executions WHERE kind = 'start';"),
            AttemptsNotStarted: await ScalarAsync(log,
                """
                SELECT COALESCE(SUM(MAX(last_attempt - starts, 0)), 0) FROM (
                    SELECT job, MAX(attempt) AS last_attempt, SUM(kind = 'start') AS starts
                      FROM executions WHERE kind IN ('start', 'done') GROUP BY job);
                """),
            StepExecutions: await ScalarAsync(log, "SELECT COUNT(*) FROM executions WHERE kind = 'step';"),
            DistinctSteps: await ScalarAsync(log, "SELECT COUNT(*) FROM (SELECT DISTINCT job, step FROM executions WHERE kind = 'step');"),
            FinishedStepsRerun: await ScalarAsync(log, "SELECT COUNT(*) FROM executions WHERE kind = 'step' AND already_finished = 1;"),
            MessagesLeft: messagesLeft,
            DeadLetters: deadLetters);
    }

    private static async Task<long> ScalarAsync(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)(await command.ExecuteScalarAsync() ?? 0L);
    }
}

using Bus.CrashTesting;
using Npgsql;
using Xunit.Abstractions;

namespace Bus.PostgreSql.Tests;

/// <summary>Runs the crash tests alone: they start several processes and need the CPU to themselves.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CrashTestCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "PostgreSQL crash tests (real processes)";
}

/// <summary>
/// Real-process crash test (the driver is test/Shared/CrashTests): worker processes (test/Bus.PostgreSql.CrashWorker)
/// share one PostgreSQL schema (queues, step store and execution log); the test enqueues jobs, SIGKILLs a random worker
/// mid-step several times, restarts it, and proves from the workers' execution log and the database that every job
/// completed, none was lost, no finished step ran again, and the steps that ran twice are at most crashes ×
/// concurrency. Workers do not prefetch, and an attempt is counted when a handler starts.
/// </summary>
[Collection(CrashTestCollection.Name)]
public sealed class CrashTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly CrashPlan Plan = new(Jobs: 200, WorkerCount: 2, Concurrency: 4, Crashes: 20);
    private readonly TestSchema _schema = new();
    private readonly CrashRun _run = new(output, "Bus.PostgreSql.CrashWorker", Plan);

    [Fact]
    public async Task Workers_killed_mid_step_lose_no_job_and_never_rerun_a_finished_step()
    {
        await _run.RunAsync(["--db", _schema.ConnectionString, "--schema", _schema.Name], $"schema {_schema.Name}");

        _run.Check(await ReadCountsAsync());
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _run.Dispose();
        await _schema.DisposeAsync();
    }

    private async Task<CrashCounts> ReadCountsAsync()
    {
        await using var transport = new PostgreSqlTransport(new PostgreSqlTransportOptions
        {
            ConnectionString = _schema.ConnectionString,
            Schema = _schema.Name,
        });
        var messagesLeft = await transport.CountMessagesAsync(CrashRun.Queue);
        var deadLetters = await transport.CountDeadLettersAsync(CrashRun.Queue);

        await using var log = new NpgsqlConnection(_schema.ConnectionString);
        await log.OpenAsync();
        await using (var path = new NpgsqlCommand($"SET search_path TO \"{_schema.Name}\";", log))
        {
            await path.ExecuteNonQueryAsync();
        }

        return new CrashCounts(
            JobsCompleted: await ScalarAsync(log, "SELECT COUNT(DISTINCT job) FROM executions WHERE kind = 'done';"),
            HandlerRuns: await ScalarAsync(log, "SELECT COUNT(*) FROM executions WHERE kind = 'done';"),
            HandlerStarts: await ScalarAsync(log, "SELECT COUNT(*) FROM executions WHERE kind = 'start';"),
            AttemptsNotStarted: await ScalarAsync(log,
                """
                SELECT COALESCE(SUM(GREATEST(last_attempt - starts, 0)), 0)::bigint FROM (
                    SELECT job, MAX(attempt) AS last_attempt, COUNT(*) FILTER (WHERE kind = 'start') AS starts
                      FROM executions WHERE kind IN ('start', 'done') GROUP BY job) jobs;
                """),
            StepExecutions: await ScalarAsync(log, "SELECT COUNT(*) FROM executions WHERE kind = 'step';"),
            DistinctSteps: await ScalarAsync(log, "SELECT COUNT(*) FROM (SELECT DISTINCT job, step FROM executions WHERE kind = 'step') steps;"),
            FinishedStepsRerun: await ScalarAsync(log, "SELECT COUNT(*) FROM executions WHERE kind = 'step' AND already_finished;"),
            MessagesLeft: messagesLeft,
            DeadLetters: deadLetters);
    }

    private static async Task<long> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync() ?? 0L);
    }
}

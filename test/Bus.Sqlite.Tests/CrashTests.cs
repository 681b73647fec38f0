using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
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
/// Real-process crash test: worker processes (test/Bus.Sqlite.CrashWorker) share one SQLite database and step store;
/// the test enqueues jobs, SIGKILLs a random worker mid-step several times, restarts it, and proves from the workers'
/// execution log and the database that every job completed, none was lost, no finished step ran again, and the
/// steps that ran twice are at most crashes × concurrency. Workers prefetch (3 × concurrency), and an attempt is counted
/// when a handler starts: every attempt a job reached is one its handler started, except at most the handlers a killed
/// worker had begun but not yet logged (crashes × concurrency), far fewer than the messages it held prefetched. Progress is followed through the workers' stdout lines
/// ("step &lt;job&gt; &lt;step&gt;", "done &lt;job&gt;"); every wait is bounded.
/// </summary>
[Collection(CrashTestCollection.Name)]
public sealed class CrashTests(ITestOutputHelper output) : IDisposable
{
    private const int Jobs = 300;
    private const int WorkerCount = 3;
    private const int Concurrency = 4;
    private const int Crashes = 5;
    private const string Queue = "crash-workers";

    /// <summary>How long any one wait may take (real time) before the test fails: generous, as the waits follow
    /// progress, not time, and only guard against a hang; a loaded machine may be several times slower.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    private readonly string _folder = Directory.CreateDirectory(
        Path.Combine(Path.GetTempPath(), "bus-crash-tests", Guid.NewGuid().ToString("N"))).FullName;

    private readonly Channel<WorkerLine> _lines = Channel.CreateUnbounded<WorkerLine>();
    private readonly List<WorkerProcess> _allWorkers = [];
    private readonly HashSet<int> _done = [];

    private string DatabasePath => Path.Combine(_folder, "bus.db");

    private string LogPath => Path.Combine(_folder, "executions.db");

    /// <summary>Job n has 6 steps when n is a multiple of 3, else 1 (CrashWorkerProgram.Job).</summary>
    private static int StepsOf(int job) => job % 3 == 0 ? 6 : 1;

    [Fact]
    public async Task Workers_killed_mid_step_lose_no_job_and_never_rerun_a_finished_step()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("BUS_CRASH_SEED"), CultureInfo.InvariantCulture, out var fixedSeed)
            ? fixedSeed
            : Random.Shared.Next();
        var random = new Random(seed);
        var clock = Stopwatch.StartNew();
        Log(clock, $"seed {seed} (set BUS_CRASH_SEED to replay); {Jobs} jobs, {WorkerCount} workers × concurrency {Concurrency}, {Crashes} crashes; {_folder}");

        await EnqueueAsync();
        var workers = Enumerable.Range(0, WorkerCount).Select(_ => Start()).ToArray();
        Log(clock, $"enqueued {Jobs} jobs; started workers {string.Join(", ", workers.Select(w => w.Id))}");

        for (var crash = 1; crash <= Crashes; crash++)
        {
            // Spread the crashes over the run; each waits for observed progress, not for time.
            var target = (crash * Jobs / (Crashes + 2)) + random.Next(-10, 11);
            await PumpUntilAsync(() => _done.Count >= target, $"{target} jobs done before crash {crash}", Patience);

            var slot = random.Next(WorkerCount);
            var victim = workers[slot];
            var stepsToWait = random.Next(1, 4);
            var seen = victim.StepsStarted;
            await TryPumpUntilAsync(() => victim.StepsStarted >= seen + stepsToWait, TimeSpan.FromSeconds(10));
            victim.Kill();
            Log(clock, $"crash {crash}: SIGKILL worker {victim.Id} just after it started '{victim.LastStep}' ({_done.Count} jobs done)");
            workers[slot] = Start();
            Log(clock, $"          restarted as worker {workers[slot].Id}");
        }

        await PumpUntilAsync(() => _done.Count == Jobs, $"all {Jobs} jobs done", Patience);
        Log(clock, "all jobs done; stopping workers with SIGTERM");
        await StopAllAsync();

        var counts = await ReadCountsAsync();
        var bound = Crashes * Concurrency;
        Log(clock, $"jobs completed:              {counts.JobsCompleted} of {Jobs}");
        Log(clock, $"jobs lost:                   {Jobs - counts.JobsCompleted}");
        Log(clock, $"messages left in queue:      {counts.MessagesLeft}, dead letters: {counts.DeadLetters}");
        Log(clock, $"steps finished:              {counts.DistinctSteps} (expected {counts.ExpectedSteps}), step executions: {counts.StepExecutions}");
        Log(clock, $"finished steps re-run:       {counts.FinishedStepsRerun}");
        Log(clock, $"duplicate step executions:   {counts.StepExecutions - counts.DistinctSteps} (bound: {Crashes} crashes × concurrency {Concurrency} = {bound})");
        Log(clock, $"finished jobs redelivered:   {counts.HandlerRuns - counts.JobsCompleted} (killed after the handler returned, before the message was completed)");
        Log(clock, $"handler starts:              {counts.HandlerStarts}; attempts counted beyond them: {counts.AttemptsNotStarted} (bound: {bound}; prefetched messages of killed workers would add up to {Crashes} × {3 * Concurrency})");

        Assert.Equal(Jobs, counts.JobsCompleted);
        Assert.Equal(0, counts.MessagesLeft);
        Assert.Equal(0, counts.DeadLetters);
        Assert.Equal(counts.ExpectedSteps, counts.DistinctSteps);
        Assert.Equal(0, counts.FinishedStepsRerun);
        Assert.InRange(counts.StepExecutions - counts.DistinctSteps, 0, bound);
        Assert.InRange(counts.AttemptsNotStarted, 0, bound);
    }

    public void Dispose()
    {
        foreach (var worker in _allWorkers)
        {
            worker.Dispose();
        }

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

    private static string WorkerAssembly()
    {
        // This assembly runs from test/Bus.Sqlite.Tests/bin/<configuration>/<tfm>/; the worker is built (a project
        // reference without its assembly) to test/Bus.Sqlite.CrashWorker/bin/<configuration>/<tfm>/.
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = output.Parent!.Name;
        var testFolder = output.Parent.Parent!.Parent!.Parent!.FullName;
        var path = Path.Combine(testFolder, "Bus.Sqlite.CrashWorker", "bin", configuration, output.Name, "Bus.Sqlite.CrashWorker.dll");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"The crash worker is not built at {path}: build Bus.sln (or test/Bus.Sqlite.Tests) first.", path);
    }

    private static ProcessStartInfo WorkerStart(params string[] arguments)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(WorkerAssembly());
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    private async Task EnqueueAsync()
    {
        using var enqueue = Process.Start(WorkerStart(
            "enqueue", "--db", DatabasePath, "--log", LogPath, "--jobs", Jobs.ToString(CultureInfo.InvariantCulture)))!;
        var stdout = enqueue.StandardOutput.ReadToEndAsync();
        var stderr = enqueue.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Patience);
        try
        {
            await enqueue.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            enqueue.Kill(entireProcessTree: true);
            throw new TimeoutException($"Enqueueing {Jobs} jobs took over {Patience.TotalSeconds:0} seconds.");
        }

        Assert.True(enqueue.ExitCode == 0, $"enqueue exited with {enqueue.ExitCode}: {await stdout} {await stderr}");
    }

    private WorkerProcess Start()
    {
        var worker = new WorkerProcess(
            WorkerStart("work", "--db", DatabasePath, "--log", LogPath, "--concurrency", Concurrency.ToString(CultureInfo.InvariantCulture)),
            _lines.Writer);
        _allWorkers.Add(worker);
        return worker;
    }

    private async Task StopAllAsync()
    {
        var running = _allWorkers.Where(w => !w.HasExited).ToList();
        foreach (var worker in running)
        {
            worker.Terminate();
        }

        using var timeout = new CancellationTokenSource(Patience);
        foreach (var worker in running)
        {
            await worker.WaitForExitAsync(timeout.Token);
        }
    }

    /// <summary>Handles worker lines until <paramref name="condition"/> holds; fails after <paramref name="timeout"/>.</summary>
    private async Task PumpUntilAsync(Func<bool> condition, string what, TimeSpan timeout)
    {
        if (!await TryPumpUntilAsync(condition, timeout))
        {
            throw new TimeoutException($"Waited {timeout.TotalSeconds:0} s for {what}; {_done.Count} jobs done. Workers: "
                + string.Join(" | ", _allWorkers.Select(w => w.Describe())));
        }
    }

    private async Task<bool> TryPumpUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        using var expiry = new CancellationTokenSource(timeout);
        while (!condition())
        {
            WorkerLine line;
            try
            {
                line = await _lines.Reader.ReadAsync(expiry.Token);
            }
            catch (OperationCanceledException)
            {
                return false;
            }

            Apply(line);
        }

        return true;
    }

    private void Apply(WorkerLine line)
    {
        if (line.Text is null)
        {
            if (!line.Worker.StoppedByTest)
            {
                throw new InvalidOperationException($"Worker {line.Worker.Id} exited on its own: {line.Worker.Describe()}");
            }
        }
        else if (line.Text.StartsWith("done ", StringComparison.Ordinal))
        {
            _done.Add(int.Parse(line.Text.AsSpan(5), CultureInfo.InvariantCulture));
        }
        else if (line.Text.StartsWith("step ", StringComparison.Ordinal))
        {
            line.Worker.StepStarted(line.Text[5..]);
        }
    }

    private async Task<Counts> ReadCountsAsync()
    {
        await using var transport = new SqliteTransport(new SqliteTransportOptions { DatabasePath = DatabasePath });
        var messagesLeft = await transport.CountMessagesAsync(Queue);
        var deadLetters = await transport.CountDeadLettersAsync(Queue);

        var connectionString = new SqliteConnectionStringBuilder { DataSource = LogPath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString();
        await using var log = new SqliteConnection(connectionString);
        await log.OpenAsync();
        return new Counts(
            JobsCompleted: await ScalarAsync(log, "SELECT COUNT(DISTINCT job) FROM executions WHERE kind = 'done';"),
            HandlerRuns: await ScalarAsync(log, "SELECT COUNT(*) FROM executions WHERE kind = 'done';"),
            StepExecutions: await ScalarAsync(log, "SELECT COUNT(*) FROM executions WHERE kind = 'step';"),
            DistinctSteps: await ScalarAsync(log, "SELECT COUNT(*) FROM (SELECT DISTINCT job, step FROM executions WHERE kind = 'step');"),
            FinishedStepsRerun: await ScalarAsync(log, "SELECT COUNT(*) FROM executions WHERE kind = 'step' AND already_finished = 1;"),
            ExpectedSteps: Enumerable.Range(1, Jobs).Sum(StepsOf),
            HandlerStarts: await ScalarAsync(log, "SELECT COUNT(*) FROM executions WHERE kind = 'start';"),
            // Per job: the attempt its last run was, less how many runs started. Counted at start, they are equal but
            // for runs a kill cut between counting the attempt and logging the start.
            AttemptsNotStarted: await ScalarAsync(log,
                """
                SELECT COALESCE(SUM(MAX(last_attempt - starts, 0)), 0) FROM (
                    SELECT job, MAX(attempt) AS last_attempt, SUM(kind = 'start') AS starts
                      FROM executions WHERE kind IN ('start', 'done') GROUP BY job);
                """),
            MessagesLeft: messagesLeft,
            DeadLetters: deadLetters);
    }

    private static async Task<long> ScalarAsync(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)(await command.ExecuteScalarAsync() ?? 0L);
    }

    private void Log(Stopwatch clock, string line) =>
        output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0}s  {line}");

    private sealed record Counts(
        long JobsCompleted, long HandlerRuns, long StepExecutions, long DistinctSteps, long FinishedStepsRerun, long ExpectedSteps,
        long HandlerStarts, long AttemptsNotStarted, long MessagesLeft, long DeadLetters);

    /// <summary>A line a worker printed; null text when its output ended (it exited).</summary>
    private sealed record WorkerLine(WorkerProcess Worker, string? Text);

    /// <summary>One worker process: its stdout lines go to the test's channel (read by a thread blocking on
    /// ReadLine); the last lines of its stderr are kept for failure messages.</summary>
    private sealed class WorkerProcess : IDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _errors = new();
        private readonly Thread _reader;

        public WorkerProcess(ProcessStartInfo start, ChannelWriter<WorkerLine> lines)
        {
            _process = Process.Start(start) ?? throw new InvalidOperationException("Could not start a crash worker.");
            Id = _process.Id;
            _process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    _errors.Enqueue(e.Data);
                    while (_errors.Count > 20 && _errors.TryDequeue(out string? _))
                    {
                    }
                }
            };
            _process.BeginErrorReadLine();
            var stdout = _process.StandardOutput;
            _reader = new Thread(() =>
            {
                while (stdout.ReadLine() is { } line)
                {
                    lines.TryWrite(new WorkerLine(this, line));
                }

                lines.TryWrite(new WorkerLine(this, null));
            })
            {
                IsBackground = true,
                Name = $"crash worker {Id} stdout",
            };
            _reader.Start();
        }

        public int Id { get; }

        public int StepsStarted { get; private set; }

        public string? LastStep { get; private set; }

        public bool StoppedByTest { get; private set; }

        public bool HasExited => _process.HasExited;

        public void StepStarted(string step)
        {
            StepsStarted++;
            LastStep = step;
        }

        /// <summary>SIGKILL: no shutdown, no cleanup, leases left to expire.</summary>
        public void Kill()
        {
            StoppedByTest = true;
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }

        /// <summary>SIGTERM: the host stops gracefully.</summary>
        public void Terminate()
        {
            StoppedByTest = true;
            using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", Id.ToString(CultureInfo.InvariantCulture) } });
            kill?.WaitForExit(10_000);
        }

        public async Task WaitForExitAsync(CancellationToken cancellationToken)
        {
            try
            {
                await _process.WaitForExitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"Worker {Id} did not stop within {Patience.TotalSeconds:0} s of SIGTERM: {Describe()}");
            }

            Assert.True(_process.ExitCode == 0, $"Worker {Id} stopped with exit code {_process.ExitCode}: {Describe()}");
        }

        public string Describe() =>
            $"worker {Id} ({(_process.HasExited ? $"exited {_process.ExitCode}" : "running")}, {StepsStarted} steps started; stderr: {string.Join(" / ", _errors)})";

        public void Dispose()
        {
            StoppedByTest = true;
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(10_000);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            _reader.Join(TimeSpan.FromSeconds(5));
            _process.Dispose();
        }
    }
}

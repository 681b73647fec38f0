using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Xunit;
using Xunit.Abstractions;

namespace Bus.CrashTesting;

/// <summary>How big a crash run is.</summary>
/// <param name="Jobs">Jobs enqueued; job n has 6 steps when n is a multiple of 3, else 1 (the worker's
/// <c>CrashWorkerProgram.Job</c>).</param>
/// <param name="WorkerCount">Worker processes running at once.</param>
/// <param name="Concurrency">Jobs each worker runs at once.</param>
/// <param name="Crashes">SIGKILLs, spread over the run.</param>
public sealed record CrashPlan(int Jobs, int WorkerCount, int Concurrency, int Crashes)
{
    /// <summary>How many steps all jobs finish together.</summary>
    public long ExpectedSteps => Enumerable.Range(1, Jobs).Sum(job => job % 3 == 0 ? 6 : 1);

    /// <summary>The most step executions (and attempts counted without a handler start) the crashes may repeat: each
    /// kill cuts at most one running job per worker slot.</summary>
    public int Bound => Crashes * Concurrency;
}

/// <summary>What the execution log and the storage hold at the end of a run.</summary>
/// <param name="JobsCompleted">Jobs whose handler returned at least once.</param>
/// <param name="HandlerRuns">Handler returns, with those of a job redelivered after it finished.</param>
/// <param name="HandlerStarts">Handler starts.</param>
/// <param name="AttemptsNotStarted">Per job, its last attempt less its handler starts, summed: attempts counted for a
/// handler that a kill cut before it logged its start.</param>
/// <param name="StepExecutions">Step executions started.</param>
/// <param name="DistinctSteps">Distinct (job, step) pairs started.</param>
/// <param name="FinishedStepsRerun">Step executions started although the step store held the step as finished.</param>
/// <param name="MessagesLeft">Messages still in the workers' queue.</param>
/// <param name="DeadLetters">Dead letters of the workers' queue.</param>
public sealed record CrashCounts(
    long JobsCompleted, long HandlerRuns, long HandlerStarts, long AttemptsNotStarted, long StepExecutions, long DistinctSteps,
    long FinishedStepsRerun, long MessagesLeft, long DeadLetters);

/// <summary>
/// The driver of a real-process crash test, whatever the storage: enqueues jobs through a worker process, runs the
/// workers, SIGKILLs a random one mid-step at spread-out points of progress and restarts it, waits until every job is
/// done, stops the workers with SIGTERM, and checks the counts the test read from its storage. Progress is followed
/// through the workers' stdout lines ("ready", "step &lt;job&gt; &lt;step&gt;", "done &lt;job&gt;"); every wait is
/// bounded.
/// </summary>
public sealed class CrashRun(ITestOutputHelper output, string workerProject, CrashPlan plan) : IDisposable
{
    /// <summary>How long any one wait may take (real time) before the test fails: generous, as the waits follow
    /// progress, not time, and only guard against a hang; a loaded machine may be several times slower.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    /// <summary>The queue (endpoint) the workers share.</summary>
    public const string Queue = "crash-workers";

    private readonly Channel<WorkerLine> _lines = Channel.CreateUnbounded<WorkerLine>();
    private readonly List<WorkerProcess> _allWorkers = [];
    private readonly HashSet<int> _done = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <summary>Runs the whole crash scenario with workers started with <paramref name="storageArguments"/> (where the
    /// storage is, e.g. "--db", path).</summary>
    public async Task RunAsync(IReadOnlyList<string> storageArguments, string storageDescription)
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("BUS_CRASH_SEED"), CultureInfo.InvariantCulture, out var fixedSeed)
            ? fixedSeed
            : Random.Shared.Next();
        var random = new Random(seed);
        Log($"seed {seed} (set BUS_CRASH_SEED to replay); {plan.Jobs} jobs, {plan.WorkerCount} workers × concurrency {plan.Concurrency}, {plan.Crashes} crashes; {storageDescription}");

        await EnqueueAsync(storageArguments);
        var workers = Enumerable.Range(0, plan.WorkerCount).Select(_ => Start(storageArguments)).ToArray();
        Log($"enqueued {plan.Jobs} jobs; started workers {string.Join(", ", workers.Select(w => w.Id))}");

        for (var crash = 1; crash <= plan.Crashes; crash++)
        {
            // Spread the crashes over the run; each waits for observed progress, not for time.
            var target = (crash * plan.Jobs / (plan.Crashes + 2)) + random.Next(-10, 11);
            await PumpUntilAsync(() => _done.Count >= target, $"{target} jobs done before crash {crash}", Patience);

            var slot = random.Next(plan.WorkerCount);
            var victim = workers[slot];
            var stepsToWait = random.Next(1, 4);
            var seen = victim.StepsStarted;
            await TryPumpUntilAsync(() => victim.StepsStarted >= seen + stepsToWait, TimeSpan.FromSeconds(10));
            victim.Kill();
            Log($"crash {crash}: SIGKILL worker {victim.Id} just after it started '{victim.LastStep}' ({_done.Count} jobs done)");
            workers[slot] = Start(storageArguments);
            Log($"          restarted as worker {workers[slot].Id}");
        }

        await PumpUntilAsync(() => _done.Count == plan.Jobs, $"all {plan.Jobs} jobs done", Patience);
        Log("all jobs done; stopping workers with SIGTERM");
        await StopAllAsync();
    }

    /// <summary>Logs the counts and asserts that nothing was lost and no finished step ran again.</summary>
    public void Check(CrashCounts counts)
    {
        var bound = plan.Bound;
        Log($"jobs completed:              {counts.JobsCompleted} of {plan.Jobs}");
        Log($"jobs lost:                   {plan.Jobs - counts.JobsCompleted}");
        Log($"messages left in queue:      {counts.MessagesLeft}, dead letters: {counts.DeadLetters}");
        Log($"steps finished:              {counts.DistinctSteps} (expected {plan.ExpectedSteps}), step executions: {counts.StepExecutions}");
        Log($"finished steps re-run:       {counts.FinishedStepsRerun}");
        Log($"duplicate step executions:   {counts.StepExecutions - counts.DistinctSteps} (bound: {plan.Crashes} crashes × concurrency {plan.Concurrency} = {bound})");
        Log($"finished jobs redelivered:   {counts.HandlerRuns - counts.JobsCompleted} (killed after the handler returned, before the message was completed)");
        Log($"handler starts:              {counts.HandlerStarts}; attempts counted beyond them: {counts.AttemptsNotStarted} (bound: {bound})");

        Assert.Equal(plan.Jobs, counts.JobsCompleted);
        Assert.Equal(0, counts.MessagesLeft);
        Assert.Equal(0, counts.DeadLetters);
        Assert.Equal(plan.ExpectedSteps, counts.DistinctSteps);
        Assert.Equal(0, counts.FinishedStepsRerun);
        Assert.InRange(counts.StepExecutions - counts.DistinctSteps, 0, bound);
        Assert.InRange(counts.AttemptsNotStarted, 0, bound);
    }

    /// <summary>Kills the workers still running.</summary>
    public void Dispose()
    {
        foreach (var worker in _allWorkers)
        {
            worker.Dispose();
        }
    }

    private string WorkerAssembly()
    {
        // This assembly runs from test/<tests>/bin/<configuration>/<tfm>/; the worker is built (a project reference
        // without its assembly) to test/<worker>/bin/<configuration>/<tfm>/.
        var assemblyFolder = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = assemblyFolder.Parent!.Name;
        var testFolder = assemblyFolder.Parent.Parent!.Parent!.Parent!.FullName;
        var path = Path.Combine(testFolder, workerProject, "bin", configuration, assemblyFolder.Name, workerProject + ".dll");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"The crash worker is not built at {path}: build Bus.sln (or the test project) first.", path);
    }

    private ProcessStartInfo WorkerStart(string mode, IReadOnlyList<string> storageArguments, params string[] arguments)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(WorkerAssembly());
        start.ArgumentList.Add(mode);
        foreach (var argument in storageArguments.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    private async Task EnqueueAsync(IReadOnlyList<string> storageArguments)
    {
        using var enqueue = Process.Start(WorkerStart("enqueue", storageArguments, "--jobs", plan.Jobs.ToString(CultureInfo.InvariantCulture)))!;
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
            throw new TimeoutException($"Enqueueing {plan.Jobs} jobs took over {Patience.TotalSeconds:0} seconds.");
        }

        Assert.True(enqueue.ExitCode == 0, $"enqueue exited with {enqueue.ExitCode}: {await stdout} {await stderr}");
    }

    private WorkerProcess Start(IReadOnlyList<string> storageArguments)
    {
        var worker = new WorkerProcess(
            WorkerStart("work", storageArguments, "--concurrency", plan.Concurrency.ToString(CultureInfo.InvariantCulture)), _lines.Writer);
        _allWorkers.Add(worker);
        return worker;
    }

    private async Task StopAllAsync()
    {
        var running = _allWorkers.Where(w => !w.HasExited).ToList();

        // A worker restarted at the end may still be starting the runtime, before it handles SIGTERM: let it get ready.
        await PumpUntilAsync(() => running.All(w => w.Ready || w.HasExited), "the workers to be ready before SIGTERM", Patience);
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
        else if (line.Text == "ready")
        {
            line.Worker.Ready = true;
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

    private void Log(string line) => output.WriteLine($"{_clock.Elapsed.TotalSeconds,6:0.0}s  {line}");

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

        /// <summary>Whether the worker printed "ready" (its host started).</summary>
        public bool Ready { get; set; }

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

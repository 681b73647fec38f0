using System.Globalization;
using Bus.Hosting;
using Bus.Leases;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bus.CrashTesting;

/// <summary>What a crash worker needs of the storage under test: where its queue, steps and execution log are.</summary>
public interface ICrashWorkerStorage
{
    /// <summary>The storage's own options, e.g. "--db &lt;bus.db&gt; --log &lt;executions.db&gt;", for the usage text.</summary>
    string Usage { get; }

    /// <summary>The option names (without "--") that must be given.</summary>
    IReadOnlyList<string> RequiredOptions { get; }

    /// <summary>Creates the execution log's table (once, before the workers start).</summary>
    Task CreateLogAsync(IReadOnlyDictionary<string, string> options);

    /// <summary>The execution log a worker appends to.</summary>
    IExecutionLog OpenLog(IReadOnlyDictionary<string, string> options);

    /// <summary>Uses the storage's transport (to enqueue and to work).</summary>
    void UseTransport(BusConfiguration bus, IReadOnlyDictionary<string, string> options);

    /// <summary>Uses the storage's step store and tunes the worker for it (prefetch, polling).</summary>
    void UseWorkerStores(BusConfiguration bus, IReadOnlyDictionary<string, string> options, int concurrency);
}

/// <summary>Parses the command line and runs the enqueue or work mode on a storage.</summary>
/// <remarks>Protocol on stdout, one line each: "ready", "step &lt;job&gt; &lt;step&gt;" when a step starts, "done
/// &lt;job&gt;" when a job's handler returns. Logs go to stderr.</remarks>
public static class CrashWorkerProgram
{
    /// <summary>The queue (endpoint) the workers share.</summary>
    public const string WorkerQueue = "crash-workers";

    /// <summary>Every third job is long: this many steps.</summary>
    public const int LongJobSteps = 6;

    /// <summary>Runs the mode named by <paramref name="args"/>[0]; returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args, ICrashWorkerStorage storage)
    {
        var error = "No mode given.";
        if (args.Length == 0 || !TryParse(args.Skip(1).ToArray(), storage.RequiredOptions, out var options, out error))
        {
            var name = AppDomain.CurrentDomain.FriendlyName;
            await Console.Error.WriteLineAsync(
                $"{error}{Environment.NewLine}" +
                $"Usage: {name} enqueue {storage.Usage} --jobs <n>{Environment.NewLine}" +
                $"       {name} work {storage.Usage} --concurrency <n>");
            return 2;
        }

        switch (args[0])
        {
            case "enqueue":
                await EnqueueAsync(storage, options, int.Parse(options.GetValueOrDefault("jobs", "0"), CultureInfo.InvariantCulture));
                return 0;
            case "work":
                await WorkAsync(storage, options, int.Parse(options.GetValueOrDefault("concurrency", "4"), CultureInfo.InvariantCulture));
                return 0;
            default:
                await Console.Error.WriteLineAsync($"Unknown mode '{args[0]}': use enqueue or work.");
                return 2;
        }
    }

    /// <summary>The shape of job <paramref name="number"/>: every third is long (several slow steps), the rest short.</summary>
    public static CrashJob Job(int number) => number % 3 == 0
        ? new CrashJob(number, LongJobSteps, StepMilliseconds: 150)
        : new CrashJob(number, Steps: 1, StepMilliseconds: 20);

    private static async Task EnqueueAsync(ICrashWorkerStorage storage, IReadOnlyDictionary<string, string> options, int jobs)
    {
        await storage.CreateLogAsync(options);
        var services = new ServiceCollection();
        services.AddBus(bus =>
        {
            bus.EndpointName = "crash-enqueuer";
            storage.UseTransport(bus, options);
            bus.RouteCommand<CrashJob>(WorkerQueue);
        });
        await using var provider = services.BuildServiceProvider();
        var sender = provider.GetRequiredService<IBus>();
        for (var number = 1; number <= jobs; number++)
        {
            await sender.SendAsync(Job(number));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"enqueued {jobs}"));
    }

    private static async Task WorkAsync(ICrashWorkerStorage storage, IReadOnlyDictionary<string, string> options, int concurrency)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders()
            .AddSimpleConsole(o => o.SingleLine = true)
            .SetMinimumLevel(LogLevel.Warning);
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Services.AddSingleton(storage.OpenLog(options));
        builder.Services.AddBus(bus =>
        {
            bus.EndpointName = WorkerQueue;
            storage.UseTransport(bus, options);
            storage.UseWorkerStores(bus, options, concurrency);
            bus.MaxConcurrency = concurrency;
            bus.ShutdownTimeout = TimeSpan.FromSeconds(5);
            bus.Retry.MaxAttempts = 50;   // a job may be interrupted by every crash; crashes are not failures
            bus.Profile = new ExecutionProfile
            {
                // A killed worker's jobs come back within 10 seconds. The lease is ten heartbeats long, so that only a
                // kill lets one run out: on a loaded machine a live worker's heartbeat may be late by seconds, and a
                // lease it lost would let another worker repeat a step that no crash interrupted.
                LeaseDuration = TimeSpan.FromSeconds(10),
                HeartbeatInterval = TimeSpan.FromSeconds(1),
                MaxRuntime = TimeSpan.FromMinutes(2),
            };
            bus.AddHandler<CrashJobHandler>();
        });

        using var host = builder.Build();
        host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.Register(() => Console.WriteLine("ready"));
        try
        {
            await host.RunAsync();
        }
        catch (OperationCanceledException)
        {
            // SIGTERM while starting (connecting to a server, migrating): a clean stop, nothing was taken yet.
        }
    }

    private static bool TryParse(
        string[] args, IReadOnlyList<string> required, out IReadOnlyDictionary<string, string> options, out string error)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        options = values;
        for (var i = 0; i < args.Length; i += 2)
        {
            if (i + 1 >= args.Length || !args[i].StartsWith("--", StringComparison.Ordinal))
            {
                error = $"Expected '--name value' pairs, got '{string.Join(' ', args)}'.";
                return false;
            }

            values[args[i][2..]] = args[i + 1];
        }

        var missing = required.Where(name => !values.ContainsKey(name)).ToList();
        error = missing.Count == 0 ? string.Empty : $"Missing: {string.Join(", ", missing.Select(m => "--" + m))}.";
        return missing.Count == 0;
    }
}

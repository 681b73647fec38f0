using System.Globalization;
using Bus.Hosting;
using Bus.Leases;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bus.Sqlite.CrashWorker;

/// <summary>Parses the command line and runs the enqueue or work mode.</summary>
public static class CrashWorkerProgram
{
    /// <summary>The queue (endpoint) the workers share.</summary>
    public const string WorkerQueue = "crash-workers";

    /// <summary>Every third job is long: this many steps.</summary>
    public const int LongJobSteps = 6;

    /// <summary>Runs the mode named by <paramref name="args"/>[0]; returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var error = "No mode given.";
        if (args.Length == 0 || !Options.TryParse(args.Skip(1).ToArray(), out var options, out error))
        {
            await Console.Error.WriteLineAsync(
                $"{error}{Environment.NewLine}" +
                "Usage: Bus.Sqlite.CrashWorker enqueue --db <bus.db> --log <executions.db> --jobs <n>" + Environment.NewLine +
                "       Bus.Sqlite.CrashWorker work --db <bus.db> --log <executions.db> --concurrency <n>");
            return 2;
        }

        switch (args[0])
        {
            case "enqueue":
                await EnqueueAsync(options);
                return 0;
            case "work":
                await WorkAsync(options);
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

    private static async Task EnqueueAsync(Options options)
    {
        await ExecutionLog.CreateAsync(options.LogPath);
        var services = new ServiceCollection();
        services.AddBus(bus =>
        {
            bus.EndpointName = "crash-enqueuer";
            bus.UseSqlite(options.DatabasePath);
            bus.RouteCommand<CrashJob>(WorkerQueue);
        });
        await using var provider = services.BuildServiceProvider();
        var sender = provider.GetRequiredService<IBus>();
        for (var number = 1; number <= options.Jobs; number++)
        {
            await sender.SendAsync(Job(number));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"enqueued {options.Jobs}"));
    }

    private static async Task WorkAsync(Options options)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders()
            .AddSimpleConsole(o => o.SingleLine = true)
            .SetMinimumLevel(LogLevel.Warning);
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Services.AddSingleton(new ExecutionLog(options.LogPath));
        builder.Services.AddBus(bus =>
        {
            bus.EndpointName = WorkerQueue;
            bus.UseSqlite(sqlite =>
            {
                sqlite.DatabasePath = options.DatabasePath;
                sqlite.PollInterval = TimeSpan.FromMilliseconds(200);
            });
            bus.UseSqliteStepStore(options.DatabasePath);
            bus.MaxConcurrency = options.Concurrency;
            bus.Prefetch = 3 * options.Concurrency;   // a killed worker holds prefetched jobs it never started: they keep their attempts
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
        await host.RunAsync();
    }

    private sealed record Options(string DatabasePath, string LogPath, int Jobs, int Concurrency)
    {
        public static bool TryParse(string[] args, out Options options, out string error)
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            options = new Options(string.Empty, string.Empty, 0, 0);
            for (var i = 0; i < args.Length; i += 2)
            {
                if (i + 1 >= args.Length || !args[i].StartsWith("--", StringComparison.Ordinal))
                {
                    error = $"Expected '--name value' pairs, got '{string.Join(' ', args)}'.";
                    return false;
                }

                values[args[i][2..]] = args[i + 1];
            }

            if (!values.TryGetValue("db", out var db) || !values.TryGetValue("log", out var log))
            {
                error = "Both --db and --log are required.";
                return false;
            }

            options = new Options(
                db,
                log,
                int.Parse(values.GetValueOrDefault("jobs", "0"), CultureInfo.InvariantCulture),
                int.Parse(values.GetValueOrDefault("concurrency", "4"), CultureInfo.InvariantCulture));
            error = string.Empty;
            return true;
        }
    }
}

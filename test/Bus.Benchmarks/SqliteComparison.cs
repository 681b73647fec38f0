using System.Diagnostics;
using System.Globalization;
using System.Text;
using Bus.Hosting;
using Bus.Sqlite;
using JasperFx;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Weasel.Sqlite;
using Wolverine;
using Wolverine.Sqlite;

namespace Bus.Benchmarks;

/// <summary>
/// Durable SQLite side by side: Bus's SQLite transport, Wolverine's durable local queue on SQLite
/// (<c>WolverineFx.Sqlite</c>) and a raw insert-then-delete loop on one connection (the limit), each on a fresh
/// database file in WAL mode with <c>synchronous=FULL</c> (an acknowledged send survives power loss).
/// One producer awaits each send; the rate runs from the first send to the last message handled. Then latency: one
/// message in flight at a time, from before the send to inside the handler.
/// </summary>
public static class SqliteComparison
{
    /// <summary>Runs every subject (alternating run by run) and returns the table.</summary>
    public static async Task<string> RunAsync(BenchmarkOptions options)
    {
        var subjects = new List<Subject>
        {
            new("Bus", "default", (path, count, latency) => RunBusAsync(path, count, latency, concurrency: null, SqliteSynchronous.Full)),
            new("Wolverine", "default", (path, count, latency) => RunWolverineAsync(path, count, latency, sequential: false, SynchronousMode.FULL)),
            new("Bus", "concurrency 1", (path, count, latency) => RunBusAsync(path, count, latency, concurrency: 1, SqliteSynchronous.Full)),
            new("Wolverine", "concurrency 1", (path, count, latency) => RunWolverineAsync(path, count, latency, sequential: true, SynchronousMode.FULL)),
            new("raw insert+delete", "1 connection", (path, count, _) => RunRawLoopAsync(path, count)),
            new("Bus, synchronous=NORMAL", "default", (path, count, latency) => RunBusAsync(path, count, latency, concurrency: null, SqliteSynchronous.Normal)),
            new("Wolverine, sync=NORMAL", "default", (path, count, latency) => RunWolverineAsync(path, count, latency, sequential: false, SynchronousMode.NORMAL)),
        };
        if (Environment.GetEnvironmentVariable("BUS_SQLITE_ONLY") is { Length: > 0 } only)
        {
            // Some subjects only, separated by commas ("Bus default,Wolverine default"), e.g. to count the syscalls of one
            // from outside: strace -f -c -e trace=fsync,fdatasync,nanosleep,clock_nanosleep.
            var chosen = only.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            subjects.RemoveAll(s => !chosen.Contains($"{s.Name} {s.Settings}", StringComparer.OrdinalIgnoreCase));
        }

        var count = options.SqliteMessages;
        var folder = Path.Combine(Path.GetTempPath(), "bus-bench-sqlite-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var runs = subjects.ToDictionary(s => s, _ => new List<Result>());
        try
        {
            for (var run = 0; run < options.WarmUps + options.SqliteRuns; run++)
            {
                foreach (var subject in subjects)
                {
                    // The warm-up is a full run, so every subject's code is at its final JIT tier when measured.
                    var path = Path.Combine(folder, $"run{run}-{runs[subject].Count}-{Guid.NewGuid():N}.db");
                    var warmUp = run < options.WarmUps;
                    var result = await subject.RunAsync(path, count, options.SqliteLatencyMessages).ConfigureAwait(false);
                    SqliteConnection.ClearAllPools();
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  sqlite, {subject.Name}, {subject.Settings}, {(warmUp ? "warm-up" : $"run {run - options.WarmUps + 1}")}: {result.Rate:N0} msg/s, p50 {result.P50Ms:0.0} ms, p99 {result.P99Ms:0.0} ms"));
                    if (!warmUp)
                    {
                        runs[subject].Add(result);
                    }
                }
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }

        return Format(options, count, runs);
    }

    private static string Format(BenchmarkOptions options, int count, Dictionary<Subject, List<Result>> runs)
    {
        var raw = runs.Where(r => r.Key.Name.StartsWith("raw", StringComparison.Ordinal)).Select(r => Median(r.Value, x => x.Rate)).DefaultIfEmpty(double.NaN).First();
        var wolverine = runs.Where(r => r.Key.Name.StartsWith("Wolverine", StringComparison.Ordinal)).ToDictionary(r => r.Key.Pair, r => r.Value);
        var text = new StringBuilder();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Durable SQLite, {count:N0} messages, no-op handler, WAL + synchronous=FULL unless named (SQLite {SqliteVersion()}), latency over {options.SqliteLatencyMessages:N0} (one in flight), median of {options.SqliteRuns} run(s) after {options.WarmUps} full warm-up run(s):"));
        text.AppendLine("subject                    settings             msg/s  spread (min-max)   x raw   x Wolverine   p50 ms   p99 ms  p99 x Wolverine");
        text.AppendLine(new string('-', 128));
        foreach (var (subject, results) in runs)
        {
            var median = Median(results, r => r.Rate);
            var p50 = Median(results, r => r.P50Ms);
            var p99 = Median(results, r => r.P99Ms);
            var isBus = subject.Name.StartsWith("Bus", StringComparison.Ordinal);
            var (vsWolverine, p99VsWolverine) = isBus && wolverine.TryGetValue(subject.Pair, out var w)
                ? (string.Create(CultureInfo.InvariantCulture, $"{median / Median(w, r => r.Rate):0.00}x"),
                   string.Create(CultureInfo.InvariantCulture, $"{p99 / Median(w, r => r.P99Ms):0.00}x"))
                : ("-", "-");
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{subject.Name,-26} {subject.Settings,-14} {median,11:N0}  {results.Min(r => r.Rate),7:N0}-{results.Max(r => r.Rate),-7:N0}  {median / raw,7:0.00}x {vsWolverine,12} {Optional(p50),8} {Optional(p99),8} {p99VsWolverine,16}"));
        }

        return text.ToString();
    }

    private static string Optional(double milliseconds) =>
        double.IsNaN(milliseconds) ? "-" : milliseconds.ToString("0.0", CultureInfo.InvariantCulture);

    private static async Task<Result> RunBusAsync(string path, int count, int latencyCount, int? concurrency, SqliteSynchronous synchronous)
    {
        var signal = new HandledSignal();
        var services = new ServiceCollection();
        services.AddSingleton(signal);
        services.AddBus(bus =>
        {
            bus.EndpointName = "bench";
            bus.UseSqlite(sqlite =>
            {
                sqlite.DatabasePath = path;
                sqlite.Synchronous = synchronous;
            });
            bus.AddHandler<BusPingHandler>();
            if (concurrency is { } limit)
            {
                bus.MaxConcurrency = limit;
            }
        });
        var provider = services.BuildServiceProvider();
        await using (provider.ConfigureAwait(false))
        {
            var hosted = provider.GetServices<IHostedService>().ToArray();
            foreach (var service in hosted)
            {
                await service.StartAsync(CancellationToken.None).ConfigureAwait(false);
            }

            try
            {
                var bus = provider.GetRequiredService<IBus>();
                return await MeasureAsync(signal, count, latencyCount, i => bus.SendAsync(new PingCommand(i, Payload.Text))).ConfigureAwait(false);
            }
            finally
            {
                foreach (var service in hosted.Reverse())
                {
                    await service.StopAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
    }

    private static async Task<Result> RunWolverineAsync(string path, int count, int latencyCount, bool sequential, SynchronousMode synchronous)
    {
        // Wolverine leaves the journal mode alone: the file is put in WAL mode (stored in the file) before it starts.
        await using (var connection = new SqliteConnection($"Data Source={path}"))
        {
            await connection.OpenAsync().ConfigureAwait(false);
            await using var wal = connection.CreateCommand();
            wal.CommandText = "PRAGMA journal_mode = WAL;";
            await wal.ExecuteScalarAsync().ConfigureAwait(false);
        }

        // Weasel's default for Wolverine's connections is synchronous=NORMAL; FULL is the same durability as Bus's default.
        using var dataSource = new SqliteDataSource($"Data Source={path}", new SqlitePragmaSettings { Synchronous = synchronous });
        var signal = new HandledSignal();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(Environment.GetEnvironmentVariable("BUS_BENCH_WOLVERINE_LOG") is { Length: > 0 } ? LogLevel.Information : LogLevel.None);
        builder.Services.AddSingleton(signal);
        builder.UseWolverine(opts =>
        {
            opts.ApplicationAssembly = typeof(SqliteComparison).Assembly;
            opts.Durability.Mode = DurabilityMode.Solo;
            opts.PersistMessagesWithSqlite(dataSource);
            opts.Discovery.DisableConventionalDiscovery().IncludeType<WolverinePingHandler>();
            var queue = opts.LocalQueueFor<WolverinePing>().UseDurableInbox();
            if (sequential)
            {
                queue.Sequential();
            }
        });
        using var host = builder.Build();
        await host.StartAsync().ConfigureAwait(false);
        try
        {
            var bus = host.Services.GetRequiredService<IMessageBus>();
            return await MeasureAsync(signal, count, latencyCount, i => bus.SendAsync(new WolverinePing(i, Payload.Text)).AsTask()).ConfigureAwait(false);
        }
        finally
        {
            await host.StopAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The limit: one connection inserts a message row and deletes it again, each its own transaction.</summary>
    private static async Task<Result> RunRawLoopAsync(string path, int count)
    {
        await using var connection = new SqliteConnection($"Data Source={path}");
        await connection.OpenAsync().ConfigureAwait(false);
        await using (var setup = connection.CreateCommand())
        {
            setup.CommandText =
                """
                PRAGMA journal_mode = WAL;
                PRAGMA synchronous = FULL;
                CREATE TABLE messages (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, body BLOB NOT NULL, visible_at INTEGER NOT NULL);
                """;
            await setup.ExecuteNonQueryAsync().ConfigureAwait(false);
        }

        await using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO messages (queue, body, visible_at) VALUES ('bench', $body, 0) RETURNING id;";
        var body = insert.Parameters.Add("$body", SqliteType.Blob);
        await using var delete = connection.CreateCommand();
        delete.CommandText = "DELETE FROM messages WHERE id = $id;";
        var id = delete.Parameters.Add("$id", SqliteType.Integer);
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            body.Value = Encoding.UTF8.GetBytes($"{{\"number\":{i},\"text\":\"{Payload.Text}\"}}");
            id.Value = await insert.ExecuteScalarAsync().ConfigureAwait(false);
            await delete.ExecuteNonQueryAsync().ConfigureAwait(false);
        }

        return new Result(count / Stopwatch.GetElapsedTime(started).TotalSeconds, double.NaN, double.NaN);
    }

    private static async Task<Result> MeasureAsync(HandledSignal signal, int count, int latencyCount, Func<int, Task> send)
    {
        using var limit = signal.FailAfter(TimeSpan.FromMinutes(5));
        var allHandled = signal.WhenHandled(count);
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            await send(i).ConfigureAwait(false);
        }

        if (Environment.GetEnvironmentVariable("BUS_BENCH_DIAG") is { Length: > 0 })
        {
            Console.Error.WriteLine($"    sends done after {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0} ms, handled {signal.Handled} of {count}");
        }

        var rate = count / ((await allHandled.ConfigureAwait(false) - started) / (double)Stopwatch.Frequency);

        var latencies = new double[latencyCount];
        for (var i = 0; i < latencyCount; i++)
        {
            var handled = signal.WhenHandled(count + i + 1L);
            var sent = Stopwatch.GetTimestamp();
            await send(count + i).ConfigureAwait(false);
            latencies[i] = (await handled.ConfigureAwait(false) - sent) * 1000.0 / Stopwatch.Frequency;
        }

        Array.Sort(latencies);
        return new Result(rate, Percentile(latencies, 0.50), Percentile(latencies, 0.99));
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static string SqliteVersion()
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        return connection.ServerVersion;
    }

    private static double Median(List<Result> results, Func<Result, double> figure)
    {
        var sorted = results.Select(figure).Order().ToArray();
        return sorted.Length == 0 ? double.NaN
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
            : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>One run: the throughput and, with one message in flight, the 50th and 99th percentile latency (NaN for the raw loop).</summary>
    private sealed record Result(double Rate, double P50Ms, double P99Ms);

    private sealed record Subject(string Name, string Settings, Func<string, int, int, Task<Result>> RunAsync)
    {
        /// <summary>Bus and Wolverine rows with the same key are compared: the same settings and synchronous level.</summary>
        public string Pair => $"{Settings} {(Name.Contains("NORMAL", StringComparison.Ordinal) ? "NORMAL" : "FULL")}";
    }

    /// <summary>Counts and returns.</summary>
    private sealed class BusPingHandler(HandledSignal signal) : IHandleMessages<PingCommand>
    {
        public Task HandleAsync(PingCommand message, IMessageContext context)
        {
            signal.OnHandled();
            return Task.CompletedTask;
        }
    }
}

/// <summary>Wolverine's message: the same shape as <see cref="PingCommand"/>.</summary>
public sealed record WolverinePing(int Number, string Text);

/// <summary>Wolverine's no-op handler (found by convention: a public class and a <c>Handle</c> method).</summary>
public sealed class WolverinePingHandler
{
    /// <summary>Counts and returns.</summary>
    public static void Handle(WolverinePing message, HandledSignal signal) => signal.OnHandled();
}

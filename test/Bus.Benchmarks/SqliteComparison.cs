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
/// One producer awaits each send; the rate runs from the first send to the last message handled.
/// </summary>
public static class SqliteComparison
{
    /// <summary>Runs every subject (alternating run by run) and returns the table.</summary>
    public static async Task<string> RunAsync(BenchmarkOptions options)
    {
        var subjects = new List<Subject>
        {
            new("Bus", "default", (path, count) => RunBusAsync(path, count, concurrency: null, SqliteSynchronous.Full)),
            new("Wolverine", "default", (path, count) => RunWolverineAsync(path, count, sequential: false, SynchronousMode.FULL)),
            new("Bus", "concurrency 1", (path, count) => RunBusAsync(path, count, concurrency: 1, SqliteSynchronous.Full)),
            new("Wolverine", "concurrency 1", (path, count) => RunWolverineAsync(path, count, sequential: true, SynchronousMode.FULL)),
            new("raw insert+delete", "1 connection", RunRawLoopAsync),
            new("Bus, synchronous=NORMAL", "default", (path, count) => RunBusAsync(path, count, concurrency: null, SqliteSynchronous.Normal)),
            new("Wolverine, sync=NORMAL", "default", (path, count) => RunWolverineAsync(path, count, sequential: false, SynchronousMode.NORMAL)),
        };
        if (Environment.GetEnvironmentVariable("BUS_SQLITE_ONLY") is { Length: > 0 } only)
        {
            // For counting syscalls of one subject from outside, e.g. strace -f -c -e trace=fsync,fdatasync,nanosleep,clock_nanosleep.
            subjects.RemoveAll(s => !string.Equals($"{s.Name} {s.Settings}", only, StringComparison.OrdinalIgnoreCase));
        }

        var count = options.SqliteMessages;
        var folder = Path.Combine(Path.GetTempPath(), "bus-bench-sqlite-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var runs = subjects.ToDictionary(s => s, _ => new List<double>());
        try
        {
            for (var run = 0; run < options.WarmUps + options.Runs; run++)
            {
                foreach (var subject in subjects)
                {
                    var path = Path.Combine(folder, $"run{run}-{runs[subject].Count}-{Guid.NewGuid():N}.db");
                    var warmUp = run < options.WarmUps;
                    var rate = await subject.RunAsync(path, warmUp ? Math.Min(count, 500) : count).ConfigureAwait(false);
                    SqliteConnection.ClearAllPools();
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  sqlite, {subject.Name}, {subject.Settings}, {(warmUp ? "warm-up" : $"run {run - options.WarmUps + 1}")}: {rate:N0} msg/s"));
                    if (!warmUp)
                    {
                        runs[subject].Add(rate);
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

    private static string Format(BenchmarkOptions options, int count, Dictionary<Subject, List<double>> runs)
    {
        var raw = runs.Where(r => r.Key.Name.StartsWith("raw", StringComparison.Ordinal)).Select(r => Median(r.Value)).DefaultIfEmpty(double.NaN).First();
        var wolverine = runs.Where(r => r.Key.Name.StartsWith("Wolverine", StringComparison.Ordinal)).ToDictionary(r => r.Key.Pair, r => Median(r.Value));
        var text = new StringBuilder();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Durable SQLite, {count:N0} messages, no-op handler, WAL + synchronous=FULL unless named (SQLite {SqliteVersion()}), median of {options.Runs} run(s) after {options.WarmUps} warm-up(s) of up to 500:"));
        text.AppendLine("subject                    settings             msg/s  spread (min-max)   x raw   x Wolverine");
        text.AppendLine(new string('-', 94));
        foreach (var (subject, rates) in runs)
        {
            var median = Median(rates);
            var vsWolverine = subject.Name.StartsWith("Bus", StringComparison.Ordinal) && wolverine.TryGetValue(subject.Pair, out var w)
                ? string.Create(CultureInfo.InvariantCulture, $"{median / w:0.00}x")
                : "-";
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{subject.Name,-26} {subject.Settings,-14} {median,11:N0}  {rates.Min(),7:N0}-{rates.Max(),-7:N0}  {median / raw,7:0.00}x {vsWolverine,12}"));
        }

        return text.ToString();
    }

    private static async Task<double> RunBusAsync(string path, int count, int? concurrency, SqliteSynchronous synchronous)
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
                return await MeasureAsync(signal, count, i => bus.SendAsync(new PingCommand(i, Payload.Text))).ConfigureAwait(false);
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

    private static async Task<double> RunWolverineAsync(string path, int count, bool sequential, SynchronousMode synchronous)
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
            return await MeasureAsync(signal, count, i => bus.SendAsync(new WolverinePing(i, Payload.Text)).AsTask()).ConfigureAwait(false);
        }
        finally
        {
            await host.StopAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The limit: one connection inserts a message row and deletes it again, each its own transaction.</summary>
    private static async Task<double> RunRawLoopAsync(string path, int count)
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

        return count / Stopwatch.GetElapsedTime(started).TotalSeconds;
    }

    private static async Task<double> MeasureAsync(HandledSignal signal, int count, Func<int, Task> send)
    {
        using var limit = signal.FailAfter(TimeSpan.FromMinutes(5));
        var allHandled = signal.WhenHandled(count);
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            await send(i).ConfigureAwait(false);
        }

        var lastHandled = await allHandled.ConfigureAwait(false);
        return count / ((lastHandled - started) / (double)Stopwatch.Frequency);
    }

    private static string SqliteVersion()
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        return connection.ServerVersion;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
            : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private sealed record Subject(string Name, string Settings, Func<string, int, Task<double>> RunAsync)
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

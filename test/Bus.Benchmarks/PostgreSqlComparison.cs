using System.Diagnostics;
using System.Globalization;
using System.Text;
using Bus.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Rebus.Activation;
using Rebus.Config;
using Rebus.Routing.TypeBased;

namespace Bus.Benchmarks;

/// <summary>
/// PostgreSQL side by side on the same server: Bus's PostgreSQL transport against Rebus 8.10.0 with Rebus.PostgreSql
/// 9.1.1, each on a fresh schema, both at their default settings and the server's durability (fsync and
/// synchronous_commit on: an acknowledged send survives a crash of the server). Throughput: one producer awaits each
/// send, from the first send to the last message handled. Latency: one message in flight, from send to handler.
/// The server is BUS_POSTGRES_CONNECTION_STRING (build/bench.sh starts the local one); without it the part is skipped.
/// </summary>
public static class PostgreSqlComparison
{
    private static string ConnectionString =>
        Environment.GetEnvironmentVariable("BUS_POSTGRES_CONNECTION_STRING") is { Length: > 0 } configured
            ? configured
            : $"Host=127.0.0.1;Port={Environment.GetEnvironmentVariable("BUS_POSTGRES_PORT") ?? "5433"};Username=bus;Database=postgres";

    /// <summary>Runs both buses (alternating run by run) and returns the table, or why it was skipped.</summary>
    public static async Task<string> RunAsync(BenchmarkOptions options)
    {
        string server;
        try
        {
            await using var connection = new NpgsqlConnection(ConnectionString);
            await connection.OpenAsync().ConfigureAwait(false);
            server = connection.PostgreSqlVersion.ToString();
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            return $"PostgreSQL comparison skipped: no server at the connection string ({e.Message}). build/bench.sh starts one.";
        }

        var subjects = new (string Name, Func<string, int, int, Task<Result>> Run)[]
        {
            ("Bus", RunBusAsync),
            ("Rebus", RunRebusAsync),
        };
        var results = subjects.ToDictionary(s => s.Name, _ => new List<Result>());
        for (var run = 0; run < options.WarmUps + options.Runs; run++)
        {
            foreach (var (name, runAsync) in subjects)
            {
                var warmUp = run < options.WarmUps;
                var schema = "bench_" + Guid.NewGuid().ToString("N")[..12];
                await ExecuteAsync($"CREATE SCHEMA \"{schema}\";").ConfigureAwait(false);
                try
                {
                    var result = await runAsync(schema, warmUp ? Math.Min(options.PostgreSqlMessages, 200) : options.PostgreSqlMessages,
                        warmUp ? 20 : options.PostgreSqlLatencyMessages).ConfigureAwait(false);
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  postgresql, {name}, {(warmUp ? "warm-up" : $"run {run - options.WarmUps + 1}")}: {result.Rate:N0} msg/s, p50 {result.P50Ms:0.0} ms, p99 {result.P99Ms:0.0} ms"));
                    if (!warmUp)
                    {
                        results[name].Add(result);
                    }
                }
                finally
                {
                    await ExecuteAsync($"DROP SCHEMA \"{schema}\" CASCADE;").ConfigureAwait(false);
                }
            }
        }

        return Format(options, server, results);
    }

    private static string Format(BenchmarkOptions options, string server, Dictionary<string, List<Result>> results)
    {
        var text = new StringBuilder();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"PostgreSQL {server} on one server, default settings of both, send + receive of {options.PostgreSqlMessages:N0} messages (one producer awaiting each send), latency over {options.PostgreSqlLatencyMessages:N0} (one in flight); median of {options.Runs} run(s) after {options.WarmUps} warm-up(s):"));
        text.AppendLine("bus         msg/s  spread (min-max)   p50 ms   p99 ms");
        text.AppendLine(new string('-', 56));
        foreach (var (name, runs) in results)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-6} {Median(runs.Select(r => r.Rate)),10:N0}  {runs.Min(r => r.Rate),7:N0}-{runs.Max(r => r.Rate),-7:N0} {Median(runs.Select(r => r.P50Ms)),8:0.0} {Median(runs.Select(r => r.P99Ms)),8:0.0}"));
        }

        var bus = results["Bus"];
        var rebus = results["Rebus"];
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Bus/Rebus: throughput {Median(bus.Select(r => r.Rate)) / Median(rebus.Select(r => r.Rate)):0.00}x, p99 latency {Median(bus.Select(r => r.P99Ms)) / Median(rebus.Select(r => r.P99Ms)):0.00}x"));
        return text.ToString();
    }

    private static async Task<Result> RunBusAsync(string schema, int count, int latencyCount)
    {
        var signal = new HandledSignal();
        var services = new ServiceCollection();
        services.AddSingleton(signal);
        services.AddBus(bus =>
        {
            bus.EndpointName = "bench";
            bus.UsePostgreSql(ConnectionString, schema);
            bus.AllowInMemoryStores = true; // no steps or workflows here
            bus.AddHandler<BusPingHandler>();
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

    private static async Task<Result> RunRebusAsync(string schema, int count, int latencyCount)
    {
        var signal = new HandledSignal();
        using var activator = new BuiltinHandlerActivator();
        activator.Handle<RebusPing>(_ =>
        {
            signal.OnHandled();
            return Task.CompletedTask;
        });
        var bus = Configure.With(activator)
            .Logging(l => l.None())
            .Transport(t => t.UsePostgreSql(ConnectionString, "messages", "bench", schemaName: schema))
            .Routing(r => r.TypeBased().Map<RebusPing>("bench"))
            .Start();
        return await MeasureAsync(signal, count, latencyCount, i => bus.Send(new RebusPing(i, Payload.Text))).ConfigureAwait(false);
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

        var lastHandled = await allHandled.ConfigureAwait(false);
        var rate = count / ((lastHandled - started) / (double)Stopwatch.Frequency);

        var latencies = new double[latencyCount];
        for (var i = 0; i < latencyCount; i++)
        {
            var handled = signal.WhenHandled(count + i + 1);
            var sent = Stopwatch.GetTimestamp();
            await send(count + i).ConfigureAwait(false);
            latencies[i] = (await handled.ConfigureAwait(false) - sent) * 1000.0 / Stopwatch.Frequency;
        }

        Array.Sort(latencies);
        return new Result(rate, Percentile(latencies, 0.50), Percentile(latencies, 0.99));
    }

    private static async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
            : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private sealed record Result(double Rate, double P50Ms, double P99Ms);

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

/// <summary>Rebus's message: the same shape as <see cref="PingCommand"/>.</summary>
public sealed record RebusPing(int Number, string Text);

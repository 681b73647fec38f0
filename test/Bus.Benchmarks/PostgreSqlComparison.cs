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
/// synchronous_commit on: an acknowledged send survives a crash of the server). Throughput: one producer, then
/// <see cref="Producers"/> producers, each awaiting its sends, from the first send to the last message handled; a raw
/// loop (insert a row, then delete it, each its own transaction, on one connection) is the one-producer limit of the
/// server. Latency: one message in flight, from send to handler.
/// The server is BUS_POSTGRES_CONNECTION_STRING (build/bench.sh starts the local one); without it the part is skipped.
/// </summary>
public static class PostgreSqlComparison
{
    /// <summary>The producers of the concurrent throughput run.</summary>
    public const int Producers = 8;

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
            ("raw", RunRawLoopAsync),
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
                    var result = await runAsync(schema, warmUp ? Math.Min(options.PostgreSqlMessages, 100) : options.PostgreSqlMessages,
                        warmUp ? 10 : options.PostgreSqlLatencyMessages).ConfigureAwait(false);
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  postgresql, {name}, {(warmUp ? "warm-up" : $"run {run - options.WarmUps + 1}")}: {result.Rate:N0} msg/s, {Producers} producers {Optional(result.ConcurrentRate, "N0")} msg/s, p50 {Optional(result.P50Ms, "0.0")} ms, p99 {Optional(result.P99Ms, "0.0")} ms"));
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
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"subject   1 producer msg/s  spread (min-max)   x raw   {Producers} producers msg/s   p50 ms   p99 ms"));
        text.AppendLine(new string('-', 92));
        var raw = Median(results["raw"].Select(r => r.Rate));
        foreach (var (name, runs) in results)
        {
            var rate = Median(runs.Select(r => r.Rate));
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-8} {rate,17:N0}  {runs.Min(r => r.Rate),7:N0}-{runs.Max(r => r.Rate),-7:N0} {rate / raw,7:0.00}x {Optional(Median(runs.Select(r => r.ConcurrentRate)), "N0"),20} {Optional(Median(runs.Select(r => r.P50Ms)), "0.0"),8} {Optional(Median(runs.Select(r => r.P99Ms)), "0.0"),8}"));
        }

        var bus = results["Bus"];
        var rebus = results["Rebus"];
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Bus/Rebus: throughput {Median(bus.Select(r => r.Rate)) / Median(rebus.Select(r => r.Rate)):0.00}x with 1 producer, {Median(bus.Select(r => r.ConcurrentRate)) / Median(rebus.Select(r => r.ConcurrentRate)):0.00}x with {Producers}; p50 latency {Median(bus.Select(r => r.P50Ms)) / Median(rebus.Select(r => r.P50Ms)):0.00}x, p99 {Median(bus.Select(r => r.P99Ms)) / Median(rebus.Select(r => r.P99Ms)):0.00}x"));
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

        var rate = count / ((await allHandled.ConfigureAwait(false) - started) / (double)Stopwatch.Frequency);

        allHandled = signal.WhenHandled(2L * count);
        started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, Producers).Select(async producer =>
        {
            for (var i = count + producer; i < 2 * count; i += Producers)
            {
                await send(i).ConfigureAwait(false);
            }
        })).ConfigureAwait(false);
        var concurrentRate = count / ((await allHandled.ConfigureAwait(false) - started) / (double)Stopwatch.Frequency);

        var latencies = new double[latencyCount];
        for (var i = 0; i < latencyCount; i++)
        {
            var handled = signal.WhenHandled((2L * count) + i + 1);
            var sent = Stopwatch.GetTimestamp();
            await send((2 * count) + i).ConfigureAwait(false);
            latencies[i] = (await handled.ConfigureAwait(false) - sent) * 1000.0 / Stopwatch.Frequency;
        }

        Array.Sort(latencies);
        return new Result(rate, concurrentRate, Percentile(latencies, 0.50), Percentile(latencies, 0.99));
    }

    /// <summary>The limit: one connection inserts a message row and deletes it again, each its own transaction.</summary>
    private static async Task<Result> RunRawLoopAsync(string schema, int count, int latencyCount)
    {
        await ExecuteAsync($"CREATE TABLE \"{schema}\".messages (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, queue text NOT NULL, body bytea NOT NULL);")
            .ConfigureAwait(false);
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        await using var insert = new NpgsqlCommand($"INSERT INTO \"{schema}\".messages (queue, body) VALUES ('bench', @body) RETURNING id;", connection);
        var body = new NpgsqlParameter<byte[]> { ParameterName = "body", TypedValue = [] };
        insert.Parameters.Add(body);
        await using var delete = new NpgsqlCommand($"DELETE FROM \"{schema}\".messages WHERE id = @id;", connection);
        var id = new NpgsqlParameter<long> { ParameterName = "id" };
        delete.Parameters.Add(id);
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            body.TypedValue = Encoding.UTF8.GetBytes($"{{\"number\":{i},\"text\":\"{Payload.Text}\"}}");
            id.TypedValue = (long)(await insert.ExecuteScalarAsync().ConfigureAwait(false))!;
            await delete.ExecuteNonQueryAsync().ConfigureAwait(false);
        }

        return new Result(count / Stopwatch.GetElapsedTime(started).TotalSeconds, double.NaN, double.NaN, double.NaN);
    }

    private static string Optional(double value, string format) =>
        double.IsNaN(value) ? "-" : value.ToString(format, CultureInfo.InvariantCulture);

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

    private sealed record Result(double Rate, double ConcurrentRate, double P50Ms, double P99Ms);

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

using System.Globalization;
using System.Text;

namespace Bus.Benchmarks;

/// <summary>Runs every in-memory scenario on both buses, with default settings and with concurrency 1, and formats the table.</summary>
public static class InMemoryComparison
{
    private static readonly BusFactory[] Buses = [BusUnderTest.Factory, MassTransitUnderTest.Factory];

    /// <summary>Runs everything and returns the table.</summary>
    public static async Task<string> RunAsync(BenchmarkOptions options)
    {
        using var workingSet = new WorkingSetSampler();
        var scenarios = new[]
        {
            Scenarios.SendThroughput(options.ThroughputMessages),
            Scenarios.PublishThroughput(options.ThroughputMessages),
            Scenarios.Latency(options.LatencyMessages),
        };
        var rows = new List<(string Settings, string Scenario, Figures Bus, Figures MassTransit)>();
        foreach (var (settings, concurrency) in new (string, int?)[] { ("default", null), ("concurrency 1", 1) })
        {
            foreach (var scenario in scenarios)
            {
                var runs = Buses.ToDictionary(b => b.Name, _ => new List<Figures>());
                for (var run = 0; run < options.WarmUps + options.Runs; run++)
                {
                    // Alternate the buses run by run, so that drifting load on a shared machine hits both alike.
                    foreach (var factory in Buses)
                    {
                        var figures = await RunOnceAsync(factory, concurrency, scenario, workingSet).ConfigureAwait(false);
                        var warmUp = run < options.WarmUps;
                        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"  {settings}, {scenario.Name}, {factory.Name}, {(warmUp ? "warm-up" : $"run {run - options.WarmUps + 1}")}: {Describe(figures)}"));
                        if (!warmUp)
                        {
                            runs[factory.Name].Add(figures);
                        }
                    }
                }

                rows.Add((settings, scenario.Name, Figures.Median(runs["Bus"]), Figures.Median(runs["MassTransit"])));
            }
        }

        return Format(options, rows);
    }

    private static async Task<Figures> RunOnceAsync(BusFactory factory, int? concurrency, Scenario scenario, WorkingSetSampler workingSet)
    {
        var bus = await factory.StartAsync(concurrency).ConfigureAwait(false);
        await using (bus.ConfigureAwait(false))
        {
            return await scenario.RunAsync(bus, workingSet).ConfigureAwait(false);
        }
    }

    private static string Describe(Figures f) => string.Create(CultureInfo.InvariantCulture,
        $"{f.MessagesPerSecond:N0} msg/s, p50 {f.P50Microseconds:N0} us, p99 {f.P99Microseconds:N0} us, max {f.MaxMicroseconds:N0} us, {f.BytesPerMessage:N0} B/msg, peak {f.PeakWorkingSetMegabytes:N0} MiB, GCs {f.Collections.Gen0}/{f.Collections.Gen1}/{f.Collections.Gen2} ({f.GcPause.TotalMilliseconds:N0} ms paused)");

    private static string Format(BenchmarkOptions options, List<(string Settings, string Scenario, Figures Bus, Figures MassTransit)> rows)
    {
        var text = new StringBuilder();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"In-memory, Bus vs MassTransit 8.5.12: {options.ThroughputMessages:N0} messages per throughput run, {options.LatencyMessages:N0} per latency run; median of {options.Runs} run(s) after {options.WarmUps} warm-up, fresh bus each run."));
        text.AppendLine("Ratio rows are Bus / MassTransit (msg/s: higher is better; latency, B/msg, working set: lower is better).");
        var header = string.Create(CultureInfo.InvariantCulture,
            $"{"settings",-14} {"scenario",-28} {"bus",-12} {"msg/s",12} {"p50 us",9} {"p99 us",9} {"max us",9} {"B/msg",9} {"peak WS MiB",12}");
        text.AppendLine(header);
        text.AppendLine(new string('-', header.Length));
        foreach (var (settings, scenario, bus, massTransit) in rows)
        {
            text.AppendLine(Row(settings, scenario, "Bus", bus, Number));
            text.AppendLine(Row(settings, scenario, "MassTransit", massTransit, Number));
            var ratio = new Figures(
                bus.MessagesPerSecond / massTransit.MessagesPerSecond,
                bus.P50Microseconds / massTransit.P50Microseconds,
                bus.P99Microseconds / massTransit.P99Microseconds,
                bus.MaxMicroseconds / massTransit.MaxMicroseconds,
                bus.BytesPerMessage / massTransit.BytesPerMessage,
                bus.PeakWorkingSetMegabytes / massTransit.PeakWorkingSetMegabytes);
            text.AppendLine(Row(settings, scenario, "Bus/MT", ratio, Ratio));
        }

        text.AppendLine();
        text.Append(Targets(rows));
        return text.ToString();
    }

    private static string Targets(List<(string Settings, string Scenario, Figures Bus, Figures MassTransit)> rows)
    {
        var text = new StringBuilder("Targets: ");
        var throughput = rows.Where(r => double.IsNaN(r.Bus.P50Microseconds)).ToList();
        var latency = rows.Where(r => !double.IsNaN(r.Bus.P50Microseconds)).ToList();
        var speed = throughput.Min(r => r.Bus.MessagesPerSecond / r.MassTransit.MessagesPerSecond);
        var bytes = rows.Max(r => r.Bus.BytesPerMessage);
        var p99 = latency.Max(r => r.Bus.P99Microseconds / r.MassTransit.P99Microseconds);
        text.Append(string.Create(CultureInfo.InvariantCulture, $"msg/s >= 3x MassTransit: {(speed >= 3 ? "met" : "NOT met")} (worst {speed:0.0}x); "));
        text.Append(string.Create(CultureInfo.InvariantCulture, $"<= 1 KB allocated per message: {(bytes <= 1024 ? "met" : "NOT met")} (worst {bytes:N0} B); "));
        text.Append(string.Create(CultureInfo.InvariantCulture, $"p99 below MassTransit's: {(p99 < 1 ? "met" : "NOT met")} (worst {p99:0.00}x)."));
        return text.ToString();
    }

    private static string Row(string settings, string scenario, string bus, Figures f, Func<double, string> format) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{settings,-14} {scenario,-28} {bus,-12} {format(f.MessagesPerSecond),12} {format(f.P50Microseconds),9} {format(f.P99Microseconds),9} {format(f.MaxMicroseconds),9} {format(f.BytesPerMessage),9} {format(f.PeakWorkingSetMegabytes),12}");

    private static string Number(double value) => double.IsNaN(value) ? "-" : value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Ratio(double value) => double.IsNaN(value) ? "-" : value.ToString("0.00", CultureInfo.InvariantCulture) + "x";
}

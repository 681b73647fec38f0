namespace Bus.Benchmarks;

/// <summary>A scenario measured on a fresh bus: returns the figures of one run.</summary>
public sealed record Scenario(string Name, Func<IBenchmarkBus, WorkingSetSampler, Task<Figures>> RunAsync);

/// <summary>The in-memory scenarios, identical for both buses.</summary>
public static class Scenarios
{
    /// <summary>One producer sends <paramref name="count"/> commands one after another; rate from the first send to the last handled.</summary>
    public static Scenario SendThroughput(int count) => new(
        "send throughput",
        (bus, workingSet) => ThroughputAsync(bus, workingSet, count, static (b, i) => b.SendAsync(new PingCommand(i, Payload.Text))));

    /// <summary>One producer publishes <paramref name="count"/> events one after another; rate from the first publish to the last handled.</summary>
    public static Scenario PublishThroughput(int count) => new(
        "publish throughput",
        (bus, workingSet) => ThroughputAsync(bus, workingSet, count, static (b, i) => b.PublishAsync(new PingEvent(i, Payload.Text))));

    /// <summary><paramref name="count"/> commands, one in flight at a time: time from the send to the handling.</summary>
    public static Scenario Latency(int count) => new("latency (send, 1 in flight)", (bus, workingSet) => LatencyAsync(bus, workingSet, count));

    private static async Task<Figures> ThroughputAsync(IBenchmarkBus bus, WorkingSetSampler workingSet, int count, Func<IBenchmarkBus, int, Task> produce)
    {
        var meter = RunMeter.Start(workingSet);
        using var limit = bus.Signal.FailAfter(TimeSpan.FromMinutes(5));
        var allHandled = bus.Signal.WhenHandled(count);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            await produce(bus, i).ConfigureAwait(false);
        }

        var lastHandled = await allHandled.ConfigureAwait(false);
        var rate = count / Ticks.ToSeconds(lastHandled - started);
        return new Figures(rate, double.NaN, double.NaN, double.NaN, meter.BytesPer(count), meter.PeakWorkingSetMegabytes) { Collections = meter.Collections, GcPause = meter.GcPause };
    }

    private static async Task<Figures> LatencyAsync(IBenchmarkBus bus, WorkingSetSampler workingSet, int count)
    {
        var latencies = new double[count];
        var meter = RunMeter.Start(workingSet);
        using var limit = bus.Signal.FailAfter(TimeSpan.FromMinutes(5));
        var handledBefore = bus.Signal.Handled;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            var handled = bus.Signal.WhenHandled(handledBefore + i + 1);
            var sent = System.Diagnostics.Stopwatch.GetTimestamp();
            await bus.SendAsync(new PingCommand(i, Payload.Text)).ConfigureAwait(false);
            var handledAt = await handled.ConfigureAwait(false);
            latencies[i] = Ticks.ToMicroseconds(handledAt - sent);
        }

        var elapsed = System.Diagnostics.Stopwatch.GetTimestamp() - started;
        var bytes = meter.BytesPer(count);
        Array.Sort(latencies);
        return new Figures(
            count / Ticks.ToSeconds(elapsed),
            Percentile(latencies, 0.50),
            Percentile(latencies, 0.99),
            latencies[^1],
            bytes,
            meter.PeakWorkingSetMegabytes) { Collections = meter.Collections, GcPause = meter.GcPause };
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Percentile(double[] sorted, double fraction) =>
        sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Length) - 1, 0, sorted.Length - 1)];
}

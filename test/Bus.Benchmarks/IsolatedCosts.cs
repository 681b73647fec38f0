using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Bus.Benchmarks;

/// <summary>
/// Bus's send and receive sides measured apart (<c>--isolated</c>): a fresh endpoint first only sends N commands to
/// its own queue (nothing receives yet), then only drains them. Reports the time per message outside garbage
/// collections, the collections spent while the backlog built up and while it drained, and the bytes a queued message
/// keeps alive. It shows what the side-by-side throughput runs mix together: the code path's own cost, and the cost
/// of a backlog that the collector has to carry.
/// </summary>
public static class IsolatedCosts
{
    /// <summary>Runs the measurement and returns its lines.</summary>
    public static async Task<string> RunAsync(BenchmarkOptions options)
    {
        var messages = options.ThroughputMessages;
        var warmUps = options.WarmUps + 1; // the first two runs of a fresh process still run code the JIT has not optimized
        var runs = new List<Costs>();
        for (var run = 0; run < warmUps + options.Runs; run++)
        {
            var costs = await MeasureOnceAsync(messages).ConfigureAwait(false);
            var warmUp = run < warmUps;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  isolated, {(warmUp ? "warm-up" : $"run {run - warmUps + 1}")}: {costs}"));
            if (!warmUp)
            {
                runs.Add(costs);
            }
        }

        var median = Costs.Median(runs);
        var text = new StringBuilder();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Bus, send and receive measured apart (in memory, {messages:N0} messages, median of {options.Runs} run(s) after {warmUps} warm-ups):"));
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"send (nothing receives):  {median.SendMicroseconds,6:N2} us/msg outside collections; collections while the backlog built: {median.SendPauseMilliseconds:N0} ms ({median.SendPauseMilliseconds * 1000 / messages:N2} us/msg)"));
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"drain (all cores):        {median.DrainMicroseconds,6:N2} us/msg outside collections; collections: {median.DrainPauseMilliseconds:N0} ms"));
        text.Append(string.Create(CultureInfo.InvariantCulture, $"kept alive per queued message: {median.RetainedBytes:N0} B"));
        return text.ToString();
    }

    private static async Task<Costs> MeasureOnceAsync(int messages)
    {
        var bus = BusUnderTest.Build(null);
        await using (bus.ConfigureAwait(false))
        {
            using var limit = bus.Signal.FailAfter(TimeSpan.FromMinutes(5));
            var before = GC.GetTotalMemory(forceFullCollection: true);
            var paused = GC.GetTotalPauseDuration();
            var started = Stopwatch.GetTimestamp();
            for (var i = 0; i < messages; i++)
            {
                await bus.SendAsync(new PingCommand(i, Payload.Text)).ConfigureAwait(false);
            }

            var sending = Stopwatch.GetElapsedTime(started);
            var sendPause = GC.GetTotalPauseDuration() - paused;
            var retained = (GC.GetTotalMemory(forceFullCollection: true) - before) / (double)messages;

            var drained = bus.Signal.WhenHandled(messages);
            paused = GC.GetTotalPauseDuration();
            started = Stopwatch.GetTimestamp();
            await bus.StartReceivingAsync().ConfigureAwait(false);
            await drained.ConfigureAwait(false);
            var draining = Stopwatch.GetElapsedTime(started);
            var drainPause = GC.GetTotalPauseDuration() - paused;

            return new Costs(
                (sending - sendPause).TotalMicroseconds / messages,
                sendPause.TotalMilliseconds,
                (draining - drainPause).TotalMicroseconds / messages,
                drainPause.TotalMilliseconds,
                retained);
        }
    }

    private sealed record Costs(double SendMicroseconds, double SendPauseMilliseconds, double DrainMicroseconds, double DrainPauseMilliseconds, double RetainedBytes)
    {
        public static Costs Median(IReadOnlyList<Costs> runs) => new(
            MedianOf(runs.Select(r => r.SendMicroseconds)),
            MedianOf(runs.Select(r => r.SendPauseMilliseconds)),
            MedianOf(runs.Select(r => r.DrainMicroseconds)),
            MedianOf(runs.Select(r => r.DrainPauseMilliseconds)),
            MedianOf(runs.Select(r => r.RetainedBytes)));

        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"send {SendMicroseconds:N2} us/msg + {SendPauseMilliseconds:N0} ms collections, drain {DrainMicroseconds:N2} us/msg + {DrainPauseMilliseconds:N0} ms collections, {RetainedBytes:N0} B kept per queued message");

        private static double MedianOf(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length == 0 ? double.NaN
                : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
                : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }
    }
}

using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Bus.Transports;

namespace Bus.Diagnostics;

/// <summary>
/// The queue statistics as observable gauges on the <c>Bus</c> meter, tagged <c>bus.queue</c>: <c>bus.queue.ready</c>,
/// <c>bus.queue.in_flight</c>, <c>bus.queue.delayed</c>, <c>bus.queue.dead_lettered</c> (messages) and
/// <c>bus.queue.oldest_age</c> (seconds). Each endpoint's <see cref="QueueStatisticsSampler"/> publishes its latest
/// reading here; a figure the transport cannot tell is left out.
/// </summary>
internal static class QueueGauges
{
    private static readonly ConcurrentDictionary<object, QueueStatistics> Readings = new();

    private static readonly ObservableGauge<long> Ready = BusTelemetry.Meter.CreateObservableGauge(
        "bus.queue.ready", () => Read<long>(s => s.Ready), "{message}", "Messages in the endpoint queue that can be received now.");

    private static readonly ObservableGauge<long> InFlight = BusTelemetry.Meter.CreateObservableGauge(
        "bus.queue.in_flight", () => Read<long>(s => s.InFlight), "{message}", "Messages received and held under a lease.");

    private static readonly ObservableGauge<long> Delayed = BusTelemetry.Meter.CreateObservableGauge(
        "bus.queue.delayed", () => Read<long>(s => s.Delayed), "{message}", "Messages hidden until a later time.");

    private static readonly ObservableGauge<long> DeadLettered = BusTelemetry.Meter.CreateObservableGauge(
        "bus.queue.dead_lettered", () => Read<long>(s => s.DeadLettered), "{message}", "Dead letters of the endpoint queue.");

    private static readonly ObservableGauge<double> OldestAge = BusTelemetry.Meter.CreateObservableGauge(
        "bus.queue.oldest_age", () => Read<double>(s => s.OldestMessageAge?.TotalSeconds), "s", "Age of the oldest message ready or in flight.");

    /// <summary>Whether any listener is subscribed to the gauges.</summary>
    public static bool Listened => Ready.Enabled || InFlight.Enabled || Delayed.Enabled || DeadLettered.Enabled || OldestAge.Enabled;

    public static void Publish(object owner, QueueStatistics reading) => Readings[owner] = reading;

    public static void Forget(object owner) => Readings.TryRemove(owner, out _);

    private static IEnumerable<Measurement<T>> Read<T>(Func<QueueStatistics, T?> figure)
        where T : struct
    {
        foreach (var reading in Readings.Values)
        {
            if (figure(reading) is { } value)
            {
                yield return new Measurement<T>(value, new KeyValuePair<string, object?>("bus.queue", reading.Queue));
            }
        }
    }
}

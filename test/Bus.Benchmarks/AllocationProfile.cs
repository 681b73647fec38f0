using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;
using System.Text;

namespace Bus.Benchmarks;

/// <summary>
/// A sampling allocation profile of Bus send-throughput and latency runs: the runtime's GC AllocationTick events (one about every
/// 100 KB allocated, naming the type that crossed the mark) summed per type. Run with --profile-allocations to see
/// what the hot path allocates per message.
/// </summary>
public sealed class AllocationProfile : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly ConcurrentDictionary<string, long> _bytesByType = new(StringComparer.Ordinal);

    /// <summary>Profiles Bus's send throughput (<paramref name="throughputMessages"/>) and latency
    /// (<paramref name="latencyMessages"/>, one in flight; the caller gives ten times the latency scenario's size, so the
    /// sampled figures are steady) on fresh buses; returns the top types in estimated bytes per message.</summary>
    public static async Task<string> RunAsync(int throughputMessages, int latencyMessages)
    {
        var throughput = await ProfileAsync(Scenarios.SendThroughput(throughputMessages), Scenarios.SendThroughput(throughputMessages / 4), throughputMessages).ConfigureAwait(false);
        var latency = await ProfileAsync(Scenarios.Latency(latencyMessages), Scenarios.Latency(latencyMessages / 4), latencyMessages).ConfigureAwait(false);
        return throughput + Environment.NewLine + latency;
    }

    private static async Task<string> ProfileAsync(Scenario scenario, Scenario warmUpScenario, int messages)
    {
        using var workingSet = new WorkingSetSampler();
        var warmUp = await BusUnderTest.StartAsync(null).ConfigureAwait(false);
        await using (warmUp.ConfigureAwait(false))
        {
            await warmUpScenario.RunAsync(warmUp, workingSet).ConfigureAwait(false);
        }

        var bus = await BusUnderTest.StartAsync(null).ConfigureAwait(false);
        await using (bus.ConfigureAwait(false))
        {
            using var profile = new AllocationProfile();
            var figures = await scenario.RunAsync(bus, workingSet).ConfigureAwait(false);
            return profile.Format(scenario.Name, messages, figures);
        }
    }

    /// <inheritdoc />
    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
        }
    }

    /// <inheritdoc />
    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventName is not { } name || !name.StartsWith("GCAllocationTick", StringComparison.Ordinal) || eventData.Payload is null)
        {
            return;
        }

        var typeName = eventData.PayloadNames!.IndexOf("TypeName") is var t and >= 0 ? eventData.Payload[t] as string ?? "?" : "?";
        var amount = eventData.PayloadNames.IndexOf("AllocationAmount64") is var a and >= 0
            ? Convert.ToInt64(eventData.Payload[a], CultureInfo.InvariantCulture)
            : 100_000;
        _bytesByType.AddOrUpdate(typeName, amount, (_, sum) => sum + amount);
    }

    private string Format(string scenario, int messages, Figures figures)
    {
        var text = new StringBuilder();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Bus {scenario}, {messages:N0} messages: {figures.BytesPerMessage:N0} B/msg measured; sampled by type (estimated B/msg):"));
        foreach (var (type, bytes) in _bytesByType.OrderByDescending(kv => kv.Value).Take(25))
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"  {bytes / (double)messages,8:N0}  {type}"));
        }

        return text.ToString();
    }
}

using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;
using System.Text;

namespace Bus.Benchmarks;

/// <summary>
/// A sampling allocation profile of one Bus send-throughput run: the runtime's GC AllocationTick events (one about every
/// 100 KB allocated, naming the type that crossed the mark) summed per type. Run with --profile-allocations to see
/// what the hot path allocates per message.
/// </summary>
public sealed class AllocationProfile : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly ConcurrentDictionary<string, long> _bytesByType = new(StringComparer.Ordinal);

    /// <summary>Profiles <paramref name="messages"/> sends on a fresh Bus and returns the top types, in estimated bytes per message.</summary>
    public static async Task<string> RunAsync(int messages)
    {
        using var workingSet = new WorkingSetSampler();
        var warmUp = await BusUnderTest.StartAsync(null).ConfigureAwait(false);
        await using (warmUp.ConfigureAwait(false))
        {
            await Scenarios.SendThroughput(messages / 4).RunAsync(warmUp, workingSet).ConfigureAwait(false);
        }

        var bus = await BusUnderTest.StartAsync(null).ConfigureAwait(false);
        await using (bus.ConfigureAwait(false))
        {
            using var profile = new AllocationProfile();
            var figures = await Scenarios.SendThroughput(messages).RunAsync(bus, workingSet).ConfigureAwait(false);
            return profile.Format(messages, figures);
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

    private string Format(int messages, Figures figures)
    {
        var text = new StringBuilder();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Bus send throughput, {messages:N0} messages: {figures.BytesPerMessage:N0} B/msg measured; sampled by type (estimated B/msg):"));
        foreach (var (type, bytes) in _bytesByType.OrderByDescending(kv => kv.Value).Take(40))
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"  {bytes / (double)messages,8:N0}  {type}"));
        }

        return text.ToString();
    }
}

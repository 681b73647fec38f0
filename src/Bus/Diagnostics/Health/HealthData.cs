using Bus.Transports;

namespace Bus.Diagnostics.Health;

/// <summary>Queue statistics as a health check's data.</summary>
internal static class HealthData
{
    public static IReadOnlyDictionary<string, object> Of(QueueStatistics counts)
    {
        var data = new Dictionary<string, object>
        {
            ["queue"] = counts.Queue,
            ["ready"] = counts.Ready,
            ["deadLettered"] = counts.DeadLettered,
        };
        if (counts.InFlight is { } inFlight)
        {
            data["inFlight"] = inFlight;
        }

        if (counts.Delayed is { } delayed)
        {
            data["delayed"] = delayed;
        }

        if (counts.OldestMessageAge is { } age)
        {
            data["oldestMessageAgeSeconds"] = age.TotalSeconds;
        }

        return data;
    }
}

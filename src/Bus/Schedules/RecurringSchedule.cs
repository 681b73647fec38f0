using Cronos;

namespace Bus.Schedules;

/// <summary>One configured recurring schedule: its cron expression in its time zone, and how it makes and sends its
/// message.</summary>
internal sealed class RecurringSchedule(
    string name, string cron, CronExpression expression, TimeZoneInfo zone, MissedTicks missed, Type messageType,
    Func<IBus, DateTimeOffset, DeliveryOptions, CancellationToken, Task> send)
{
    public string Name => name;

    public string Cron => cron;

    public TimeZoneInfo Zone => zone;

    public MissedTicks Missed => missed;

    public Type MessageType => messageType;

    /// <summary>The first tick strictly after <paramref name="after"/>, UTC (Cronos handles daylight-saving changes:
    /// a time skipped by the clock fires at the first valid time after it, a repeated one fires once).</summary>
    public DateTimeOffset? NextAfter(DateTimeOffset after) =>
        expression.GetNextOccurrence(after.ToUniversalTime(), zone, inclusive: false)?.ToUniversalTime();

    /// <summary>The latest tick in (<paramref name="after"/>, <paramref name="upTo"/>], UTC, or null.</summary>
    public DateTimeOffset? LatestIn(DateTimeOffset after, DateTimeOffset upTo)
    {
        // Look at the last day first: after long downtime a frequent schedule has many ticks to walk through.
        var recent = upTo - TimeSpan.FromDays(1);
        return recent > after && Scan(recent, upTo) is { } latest ? latest : Scan(after, upTo);
    }

    private DateTimeOffset? Scan(DateTimeOffset after, DateTimeOffset upTo)
    {
        DateTimeOffset? latest = null;
        for (var next = NextAfter(after); next is { } tick && tick <= upTo; next = NextAfter(tick))
        {
            latest = tick;
        }

        return latest;
    }

    /// <summary>Makes the message for <paramref name="tick"/> (given in the schedule's zone) and sends or publishes it.</summary>
    public Task SendAsync(IBus bus, DateTimeOffset tick, CancellationToken cancellationToken) =>
        send(bus, TimeZoneInfo.ConvertTime(tick, zone), new DeliveryOptions { MessageId = MessageIdFor(tick) }, cancellationToken);

    /// <summary>The id of the message a tick sends: the same on every host, so a transport or inbox that deduplicates
    /// by id drops a second send of one tick.</summary>
    public string MessageIdFor(DateTimeOffset tick) => $"schedule:{name}:{tick.ToUniversalTime():yyyyMMddTHHmmssZ}";
}

using System.Globalization;

namespace Bus.Leases;

/// <summary>
/// A daily window in which a handler may run, e.g. 22:00 to 06:00 (across midnight) in a time zone. Messages
/// received outside it wait until it opens, without counting as attempts; running jobs pause at their next
/// checkpoint or step when it closes.
/// </summary>
public sealed class TimeWindow
{
    private TimeWindow(TimeOnly start, TimeOnly end, TimeZoneInfo zone)
    {
        Start = start;
        End = end;
        Zone = zone;
    }

    /// <summary>Local time the window opens.</summary>
    public TimeOnly Start { get; }

    /// <summary>Local time the window closes (earlier than <see cref="Start"/> for a window across midnight).</summary>
    public TimeOnly End { get; }

    /// <summary>The time zone of <see cref="Start"/> and <see cref="End"/>.</summary>
    public TimeZoneInfo Zone { get; }

    /// <summary>A daily window from <paramref name="start"/> to <paramref name="end"/> ("HH:mm") in <paramref name="zone"/> (UTC when null).</summary>
    public static TimeWindow Daily(string start, string end, TimeZoneInfo? zone = null)
    {
        var s = Parse(start, nameof(start));
        var e = Parse(end, nameof(end));
        if (s == e)
        {
            throw new BusConfigurationException($"Time window {start}-{end} is empty: start and end must differ.");
        }

        return new TimeWindow(s, e, zone ?? TimeZoneInfo.Utc);
    }

    /// <summary>Whether <paramref name="utcNow"/> falls in the window.</summary>
    public bool IsOpen(DateTimeOffset utcNow)
    {
        var local = TimeOnly.FromDateTime(TimeZoneInfo.ConvertTime(utcNow, Zone).DateTime);
        return Start < End ? local >= Start && local < End : local >= Start || local < End;
    }

    /// <summary>The next time the window opens at or after <paramref name="utcNow"/> (now when open).</summary>
    public DateTimeOffset NextOpening(DateTimeOffset utcNow)
    {
        if (IsOpen(utcNow))
        {
            return utcNow;
        }

        var local = TimeZoneInfo.ConvertTime(utcNow, Zone);
        var candidate = local.Date + Start.ToTimeSpan();
        if (candidate <= local.DateTime)
        {
            candidate = candidate.AddDays(1);
        }

        // Resolve the local wall-clock time in the zone (skipping a DST gap by moving forward).
        while (Zone.IsInvalidTime(candidate))
        {
            candidate = candidate.AddMinutes(1);
        }

        return new DateTimeOffset(candidate, Zone.GetUtcOffset(candidate)).ToUniversalTime();
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Start.ToString("HH:mm", CultureInfo.InvariantCulture)}-{End.ToString("HH:mm", CultureInfo.InvariantCulture)} {Zone.Id}";

    private static TimeOnly Parse(string value, string name)
    {
        if (!TimeOnly.TryParseExact(value, ["HH:mm", "H:mm", "HH:mm:ss"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
        {
            throw new BusConfigurationException($"Time window {name} '{value}' is not a time of day like \"22:00\".");
        }

        return time;
    }
}

using System.Globalization;
using System.Text.Json.Serialization;

namespace Bus.AzureServiceBus.Rest;

/// <summary>The JSON of the <c>BrokerProperties</c> HTTP header: the broker-defined message properties.</summary>
internal sealed class BrokerProperties
{
    public string? MessageId { get; set; }

    public string? CorrelationId { get; set; }

    public string? Label { get; set; }

    /// <summary>RFC 1123, e.g. <c>Sun, 06 Nov 1994 08:49:37 GMT</c>.</summary>
    public string? ScheduledEnqueueTimeUtc { get; set; }

    public int? DeliveryCount { get; set; }

    public string? LockToken { get; set; }

    /// <summary>RFC 1123.</summary>
    public string? LockedUntilUtc { get; set; }

    public long? SequenceNumber { get; set; }

    /// <summary>RFC 1123.</summary>
    public string? EnqueuedTimeUtc { get; set; }

    public double? TimeToLive { get; set; }

    public string? DeadLetterSource { get; set; }

    /// <summary>Formats a time as RFC 1123 (whole seconds, GMT).</summary>
    public static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Parses an RFC 1123 (or ISO 8601) time; null when absent or malformed.</summary>
    public static DateTimeOffset? ParseTime(string? value) =>
        value is not null && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time)
            ? time
            : null;
}

/// <summary>One entry of a batch send body (<c>application/vnd.microsoft.servicebus.json</c>).</summary>
internal sealed class BatchEntry
{
    public required string Body { get; init; }

    public required BrokerProperties BrokerProperties { get; init; }

    public required Dictionary<string, string> UserProperties { get; init; }
}

/// <summary>Source-generated JSON for the REST payloads.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BrokerProperties))]
[JsonSerializable(typeof(List<BatchEntry>))]
internal sealed partial class RestJsonContext : JsonSerializerContext;

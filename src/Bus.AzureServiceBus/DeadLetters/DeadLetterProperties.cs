using System.Text;
using Bus.Transports;

namespace Bus.AzureServiceBus.DeadLetters;

/// <summary>
/// What a native dead-letter call carries: the <c>bus-failure-*</c> properties, the reason and the description. A dead
/// letter must always land with at least its reason, so when the failure details would push the message past a limit
/// (a property 32 KB, all properties 64 KB, the whole message the entity's maximum) they are trimmed: the stack trace
/// first, then the exception message, then the description; the reason last, and only shortened.
/// </summary>
internal sealed record DeadLetterProperties(IReadOnlyDictionary<string, object> Properties, string Reason, string? Description)
{
    /// <summary>The largest application property Service Bus accepts, in bytes.</summary>
    public const int MaxPropertyBytes = 32 * 1024;

    /// <summary>The largest set of properties (the message header) Service Bus accepts, in bytes.</summary>
    public const int MaxHeaderBytes = 64 * 1024;

    /// <summary>Room kept for the broker's own properties in the header.</summary>
    private const int HeaderReserve = 4 * 1024;

    /// <summary>The longest reason and description kept (Service Bus shows them in the portal and in Explorer).</summary>
    private const int MaxTextLength = 4096;

    /// <summary>The properties for <paramref name="failure"/> on a message whose body and properties take
    /// <paramref name="bodyBytes"/> and <paramref name="headerBytes"/>, under an entity limit of
    /// <paramref name="maxMessageBytes"/>.</summary>
    public static DeadLetterProperties For(FailureDetails failure, long bodyBytes, long headerBytes, long maxMessageBytes)
    {
        ArgumentNullException.ThrowIfNull(failure);

        // The details give way as FailureDetails.FitTo orders it (stack trace, exception message, exception type, then
        // time, source queue and attempts, the reason shortened last), measured as the broker counts this dead letter:
        // the message as received plus the failure properties, the reason and the description. Both limits have that
        // form: the whole message under the entity's maximum, and the properties under the header's 64 KB.
        var limit = Math.Min(maxMessageBytes, bodyBytes + MaxHeaderBytes - HeaderReserve);
        var empty = new TransportMessage(null, default);
        long SizeOf(TransportMessage withFailure) => bodyBytes + headerBytes + Size(Build(FailureDetails.Read(withFailure, string.Empty).Failure));
        var fitted = failure.FitTo(empty, limit, SizeOf) ?? failure with
        {
            // Not even a one-character reason fits: send the shortest there is; the broker refuses it and the message
            // stays until MaxDeliveryCount moves it.
            Reason = failure.Reason[..1], ExceptionType = null, ExceptionMessage = null, StackTrace = null,
            Attempts = 0, SourceQueue = string.Empty, FailedAt = DateTimeOffset.MinValue,
        };
        var built = Build(fitted);
        return new DeadLetterProperties(built.Properties.ToDictionary(p => p.Key, p => (object)p.Value, StringComparer.Ordinal), built.Reason, built.Description);
    }

    /// <summary>The properties, reason and description of <paramref name="failure"/>, each within its own limit.</summary>
    private static (Dictionary<string, string> Properties, string Reason, string? Description) Build(FailureDetails failure)
    {
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in failure.AddTo(new TransportMessage(null, default)).Headers)
        {
            properties[name] = Truncate(value, MaxPropertyBytes - 1024);
        }

        // The reason travels once, as the native DeadLetterReason (the portal and Explorer show it; the dead-letter API
        // reads it back), not a second time as a property.
        properties.Remove(MessageHeaders.FailureReason);

        var reason = Shorten(failure.Reason, MaxTextLength);
        var description = failure.ExceptionType is null
            ? null
            : Shorten(failure.ExceptionMessage is null ? failure.ExceptionType : $"{failure.ExceptionType}: {failure.ExceptionMessage}", MaxTextLength);
        return (properties, reason, description);
    }

    private static long Size((Dictionary<string, string> Properties, string Reason, string? Description) built) =>
        Size(built.Properties, built.Reason, built.Description);

    private static long Size(Dictionary<string, string> properties, string reason, string? description)
    {
        // The reason and description are stored as two more properties, under these names.
        long size = Encoding.UTF8.GetByteCount("DeadLetterReason") + Encoding.UTF8.GetByteCount(reason)
            + (description is null ? 0 : Encoding.UTF8.GetByteCount("DeadLetterErrorDescription") + Encoding.UTF8.GetByteCount(description));
        foreach (var (name, value) in properties)
        {
            size += Encoding.UTF8.GetByteCount(name) + Encoding.UTF8.GetByteCount(value);
        }

        return size;
    }

    private static string Shorten(string text, int maxLength) => text.Length <= maxLength ? text : text[..(maxLength - 1)] + "…";

    /// <summary><paramref name="text"/> cut to at most <paramref name="maxBytes"/> UTF-8 bytes, on a character boundary.</summary>
    private static string Truncate(string text, int maxBytes)
    {
        if (Encoding.UTF8.GetByteCount(text) <= maxBytes)
        {
            return text;
        }

        var bytes = 0;
        var length = 0;
        while (length < text.Length)
        {
            var width = char.IsSurrogatePair(text, length) ? 2 : 1;
            var size = Encoding.UTF8.GetByteCount(text.AsSpan(length, width));
            if (bytes + size > maxBytes - 3)
            {
                break;
            }

            bytes += size;
            length += width;
        }

        return text[..length] + "…";
    }
}

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
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in failure.AddTo(new TransportMessage(null, default)).Headers)
        {
            properties[name] = Truncate(value, MaxPropertyBytes - 1024);
        }

        var reason = Shorten(failure.Reason, MaxTextLength);
        var description = failure.ExceptionType is null
            ? null
            : Shorten(failure.ExceptionMessage is null ? failure.ExceptionType : $"{failure.ExceptionType}: {failure.ExceptionMessage}", MaxTextLength);

        var headerRoom = MaxHeaderBytes - HeaderReserve - headerBytes;
        var messageRoom = maxMessageBytes - bodyBytes - headerBytes - HeaderReserve;
        bool Fits() => Size(properties, reason, description) is var extra && extra <= headerRoom && extra <= messageRoom;

        if (!Fits())
        {
            properties.Remove(MessageHeaders.FailureStackTrace);
        }

        if (!Fits())
        {
            properties.Remove(MessageHeaders.FailureExceptionMessage);
            description = failure.ExceptionType is null ? null : Shorten(failure.ExceptionType, MaxTextLength);
        }

        if (!Fits())
        {
            description = null;
        }

        if (!Fits())
        {
            // Last resort: the reason alone (short), in both places it is read from.
            properties.Remove(MessageHeaders.FailureExceptionType);
            reason = Shorten(reason, 256);
            properties[MessageHeaders.FailureReason] = reason;
        }

        return new DeadLetterProperties(properties.ToDictionary(p => p.Key, p => (object)p.Value, StringComparer.Ordinal), reason, description);
    }

    private static long Size(Dictionary<string, string> properties, string reason, string? description)
    {
        long size = Encoding.UTF8.GetByteCount(reason) + (description is null ? 0 : Encoding.UTF8.GetByteCount(description)) + 64;
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

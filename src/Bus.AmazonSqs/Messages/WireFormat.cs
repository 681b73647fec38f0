using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Amazon.SQS.Model;
using Bus.Transports;

namespace Bus.AmazonSqs.Messages;

/// <summary>A message as SQS and SNS carry it: a string body and String attributes.</summary>
internal sealed record WireMessage(string Body, IReadOnlyDictionary<string, string> Attributes)
{
    /// <summary>Bytes SQS counts: the UTF-8 body plus each attribute's name, data type and value.</summary>
    public long Size
    {
        get
        {
            long size = Encoding.UTF8.GetByteCount(Body);
            foreach (var (name, value) in Attributes)
            {
                size += Encoding.UTF8.GetByteCount(name) + WireFormat.StringType.Length + Encoding.UTF8.GetByteCount(value);
            }

            return size;
        }
    }
}

/// <summary>
/// Maps <see cref="TransportMessage"/>s to SQS/SNS messages and back. Headers become String message attributes; when
/// they do not fit the rules (more than 10, an empty value, a name SQS rejects) they are all packed into one
/// <c>bus-headers</c> attribute holding a JSON object. A body that is not valid UTF-8 text of characters SQS accepts
/// travels base64-encoded, flagged by <c>bus-body-encoding</c>.
/// </summary>
internal static class WireFormat
{
    public const string StringType = "String";
    public const string PackedHeaders = "bus-headers";
    public const string BodyEncoding = "bus-body-encoding";
    public const int MaxAttributes = 10;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static WireMessage Encode(TransportMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        string body;
        string? encoding = null;
        if (message.Body.IsEmpty)
        {
            body = "-"; // SQS rejects an empty body
            encoding = "empty";
        }
        else if (TryText(message.Body.Span, out var text))
        {
            body = text;
        }
        else
        {
            body = Convert.ToBase64String(message.Body.Span);
            encoding = "base64";
        }

        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        var reserved = encoding is null ? 0 : 1;
        if (message.Headers.Count + reserved <= MaxAttributes && message.Headers.All(h => IsValidName(h.Key) && IsValidValue(h.Value)))
        {
            foreach (var (name, value) in message.Headers)
            {
                attributes[name] = value;
            }
        }
        else if (message.Headers.Count > 0)
        {
            attributes[PackedHeaders] = JsonSerializer.Serialize(new Dictionary<string, string>(message.Headers), WireJsonContext.Default.DictionaryStringString);
        }

        if (encoding is not null)
        {
            attributes[BodyEncoding] = encoding;
        }

        return new WireMessage(body, attributes);
    }

    /// <summary>Turns a received SQS message into a transport message. Foreign messages (no attributes) keep their
    /// body untouched; a missing <see cref="MessageHeaders.MessageId"/> is filled from <paramref name="brokerMessageId"/>.</summary>
    public static TransportMessage Decode(string? body, IReadOnlyDictionary<string, MessageAttributeValue>? attributes, string brokerMessageId)
    {
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        string? encoding = null;
        if (attributes is not null)
        {
            foreach (var (name, value) in attributes)
            {
                if (name == PackedHeaders && value.StringValue is { } packed)
                {
                    if (TryUnpack(packed) is { } unpacked)
                    {
                        foreach (var (key, v) in unpacked)
                        {
                            headers[key] = v;
                        }
                    }
                    else
                    {
                        // Unreadable: kept as it came, so the pipeline dead-letters the message with it (it has no
                        // type header) instead of one bad message failing the receive of its whole batch.
                        headers[PackedHeaders] = packed;
                    }
                }
                else if (name == BodyEncoding)
                {
                    encoding = value.StringValue;
                }
                else if (value.StringValue is { } s)
                {
                    headers.TryAdd(name, s);
                }
                else if (value.BinaryValue is { } b)
                {
                    headers.TryAdd(name, Convert.ToBase64String(b.ToArray()));
                }
            }
        }

        if (!headers.ContainsKey(MessageHeaders.MessageId))
        {
            headers[MessageHeaders.MessageId] = brokerMessageId;
        }

        body ??= string.Empty;
        byte[] bytes;
        if (encoding == "empty")
        {
            bytes = [];
        }
        else if (encoding == "base64" && TryFromBase64(body, out var decoded))
        {
            bytes = decoded;
        }
        else
        {
            // Plain text, or a body that claims an encoding it does not have: kept as received, with the claim in a
            // header, for the pipeline to dead-letter when it does not deserialize.
            bytes = Encoding.UTF8.GetBytes(body);
            if (encoding is not null)
            {
                headers[BodyEncoding] = encoding;
            }
        }

        return new TransportMessage(headers, bytes);
    }

    private static Dictionary<string, string>? TryUnpack(string packed)
    {
        try
        {
            return JsonSerializer.Deserialize(packed, WireJsonContext.Default.DictionaryStringString);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool TryFromBase64(string text, out byte[] bytes)
    {
        bytes = new byte[(text.Length * 3 / 4) + 3];
        if (Convert.TryFromBase64String(text, bytes, out var written))
        {
            Array.Resize(ref bytes, written);
            return true;
        }

        return false;
    }

    /// <summary>Whether SQS accepts <paramref name="name"/> as a message attribute name.</summary>
    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 256
        && name != PackedHeaders && name != BodyEncoding
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
        && name[0] != '.' && name[^1] != '.'
        && !name.Contains("..", StringComparison.Ordinal)
        && !name.StartsWith("AWS.", StringComparison.OrdinalIgnoreCase)
        && !name.StartsWith("Amazon.", StringComparison.OrdinalIgnoreCase);

    private static bool IsValidValue(string value) => value.Length > 0 && IsAllowedText(value);

    private static bool TryText(ReadOnlySpan<byte> body, out string text)
    {
        text = string.Empty;
        try
        {
            text = StrictUtf8.GetString(body);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        return IsAllowedText(text);
    }

    /// <summary>The characters SQS accepts in bodies and values: #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD and paired surrogates.</summary>
    private static bool IsAllowedText(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c is '\t' or '\n' or '\r' || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD))
            {
                continue;
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }

            return false;
        }

        return true;
    }
}

/// <summary>Source-generated serialization of packed headers.</summary>
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class WireJsonContext : JsonSerializerContext
{
}

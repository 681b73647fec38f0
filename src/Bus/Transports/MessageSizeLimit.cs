using System.Text;

namespace Bus.Transports;

/// <summary>Checks a message against a transport's size limit before it is sent.</summary>
public static class MessageSizeLimit
{
    /// <summary>The size a message takes on the wire, roughly: body bytes plus UTF-8 header names and values.</summary>
    public static long SizeOf(TransportMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        long size = message.Body.Length;
        foreach (var (key, value) in message.Headers)
        {
            size += Encoding.UTF8.GetByteCount(key) + Encoding.UTF8.GetByteCount(value);
        }

        return size;
    }

    /// <summary>Throws <see cref="MessageTooLargeException"/> when the message exceeds <paramref name="limit"/>.</summary>
    public static void Check(TransportMessage message, long? limit, string transportName)
    {
        if (limit is not { } max)
        {
            return;
        }

        var size = SizeOf(message);
        if (size > max)
        {
            throw new MessageTooLargeException(message.MessageId, size, max, transportName);
        }
    }
}

/// <summary>A message is larger than the transport (or queue) accepts. It was not sent.</summary>
public sealed class MessageTooLargeException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public MessageTooLargeException(string? messageId, long size, long limit, string transportName)
        : base($"Message '{messageId}' is {size:N0} bytes (body plus headers), over the {limit:N0}-byte limit of {transportName}. " +
               "Send a reference to the data (e.g. a blob or S3 key) instead of the data itself.")
    {
        Size = size;
        Limit = limit;
    }

    /// <summary>The message's size in bytes.</summary>
    public long Size { get; }

    /// <summary>The limit in bytes.</summary>
    public long Limit { get; }
}

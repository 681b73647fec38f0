using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Azure.Messaging.ServiceBus;
using Bus.Transports;

namespace Bus.AzureServiceBus.Messages;

/// <summary>
/// Turns bus messages into Service Bus messages and back. Every header travels as an application property (the bus's
/// own message id included, as <see cref="MessageHeaders.MessageId"/>), so the broker's <c>MessageId</c> is free to
/// differ between copies: a first send uses the bus id (so a resend of the same message is a duplicate to an entity
/// with duplicate detection), a copy (retry, release, redrive) gets a new one.
/// </summary>
internal static class MessageMapping
{
    /// <summary>Properties Service Bus sets on messages it dead-letters.</summary>
    public const string DeadLetterReason = "DeadLetterReason";

    /// <summary>The description that goes with <see cref="DeadLetterReason"/>.</summary>
    public const string DeadLetterErrorDescription = "DeadLetterErrorDescription";

    /// <summary>The longest broker message id or correlation id Service Bus accepts.</summary>
    private const int MaxBrokerIdLength = 128;

    /// <summary>A first send of <paramref name="message"/>.</summary>
    public static ServiceBusMessage ToServiceBus(TransportMessage message, DateTimeOffset? visibleAt) =>
        Create(message, visibleAt, BrokerId(message.MessageId) ?? NewBrokerId(), priorAttempts: null);

    /// <summary>A copy of a received message with a new broker id (retry, release).</summary>
    public static ServiceBusMessage Copy(TransportMessage message, DateTimeOffset? visibleAt, int priorAttempts) =>
        Create(message, visibleAt, NewBrokerId(), priorAttempts);

    /// <summary>A copy with a broker id derived from <paramref name="seed"/>: sending it twice (a redrive repeated after
    /// a crash) is a duplicate to an entity with duplicate detection.</summary>
    public static ServiceBusMessage CopyWithStableId(TransportMessage message, string seed) =>
        Create(message, null, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(seed)))[..32], priorAttempts: null);

    /// <summary>The bus form of a received message: application properties as headers (the Service Bus dead-letter
    /// properties and the prior-attempts header taken out, the latter returned), the message id filled from the broker
    /// when absent.</summary>
    public static (TransportMessage Message, int PriorAttempts) FromServiceBus(ServiceBusReceivedMessage received)
    {
        var headers = new Dictionary<string, string>(received.ApplicationProperties.Count + 1, StringComparer.Ordinal);
        foreach (var (name, value) in received.ApplicationProperties)
        {
            if (name is DeadLetterReason or DeadLetterErrorDescription || value is null)
            {
                continue;
            }

            headers[name] = Format(value);
        }

        var prior = 0;
        if (headers.Remove(MessageHeaders.PriorAttempts, out var priorText))
        {
            _ = int.TryParse(priorText, NumberStyles.Integer, CultureInfo.InvariantCulture, out prior);
            prior = Math.Max(0, prior);
        }

        if (!headers.ContainsKey(MessageHeaders.MessageId))
        {
            headers[MessageHeaders.MessageId] = string.IsNullOrEmpty(received.MessageId)
                ? received.SequenceNumber.ToString(CultureInfo.InvariantCulture)
                : received.MessageId;
        }

        return (new TransportMessage(headers, received.Body.ToMemory()), prior);
    }

    /// <summary>The size a message takes, as the bus counts it (body plus header names and values, UTF-8).</summary>
    public static long SizeOf(ServiceBusReceivedMessage received)
    {
        long size = received.Body.ToMemory().Length;
        foreach (var (name, value) in received.ApplicationProperties)
        {
            size += Encoding.UTF8.GetByteCount(name) + (value is null ? 0 : Encoding.UTF8.GetByteCount(Format(value)));
        }

        return size;
    }

    private static ServiceBusMessage Create(TransportMessage message, DateTimeOffset? visibleAt, string brokerId, int? priorAttempts)
    {
        var sent = new ServiceBusMessage(BinaryData.FromBytes(message.Body)) { MessageId = brokerId };
        foreach (var (name, value) in message.Headers)
        {
            sent.ApplicationProperties[name] = value;
        }

        sent.ApplicationProperties.Remove(MessageHeaders.PriorAttempts);
        if (priorAttempts is > 0)
        {
            sent.ApplicationProperties[MessageHeaders.PriorAttempts] = priorAttempts.Value.ToString(CultureInfo.InvariantCulture);
        }

        if (message.Headers.TryGetValue(MessageHeaders.CorrelationId, out var correlation) && BrokerId(correlation) is { } correlationId)
        {
            sent.CorrelationId = correlationId;
        }

        if (message.Headers.TryGetValue(MessageHeaders.ContentType, out var contentType))
        {
            sent.ContentType = contentType;
        }

        if (visibleAt is { } at)
        {
            sent.ScheduledEnqueueTime = at;
        }

        return sent;
    }

    private static string NewBrokerId() => Guid.NewGuid().ToString("N");

    private static string? BrokerId(string? id) => id is { Length: > 0 and <= MaxBrokerIdLength } ? id : null;

    /// <summary>A property value as a header: strings as they are, times round-trip, numbers invariant.</summary>
    private static string Format(object value) => value switch
    {
        string text => text,
        DateTimeOffset time => time.ToString("O", CultureInfo.InvariantCulture),
        DateTime time => time.ToString("O", CultureInfo.InvariantCulture),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}

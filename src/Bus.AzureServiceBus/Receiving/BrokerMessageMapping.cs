using System.Globalization;
using Bus.AzureServiceBus.Rest;
using Bus.Transports;

namespace Bus.AzureServiceBus.Receiving;

/// <summary>Turns bus messages into broker messages and back.</summary>
internal static class BrokerMessageMapping
{
    /// <summary>Properties Service Bus sets on messages it dead-letters natively.</summary>
    public const string DeadLetterReason = "DeadLetterReason";

    /// <summary>The description that goes with <see cref="DeadLetterReason"/>.</summary>
    public const string DeadLetterErrorDescription = "DeadLetterErrorDescription";

    private const int MaxBrokerIdLength = 128;

    /// <summary>The broker form of <paramref name="message"/>; its headers become custom properties.</summary>
    /// <exception cref="ArgumentException">A header name cannot travel as an HTTP header.</exception>
    public static OutgoingBrokerMessage ToBroker(TransportMessage message, DateTimeOffset? visibleAt, int? priorAttempts = null)
    {
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in message.Headers)
        {
            if (!PropertyHeaders.IsUsableName(name))
            {
                throw new ArgumentException(
                    $"Header '{name}' of message '{message.MessageId}' cannot be sent over Azure Service Bus: header names must be HTTP tokens " +
                    "(letters, digits and !#$%&'*+-.^_`|~) and must not be HTTP or Service Bus protocol headers.", nameof(message));
            }

            properties[name] = value;
        }

        properties.Remove(MessageHeaders.PriorAttempts);
        if (priorAttempts is > 0)
        {
            properties[MessageHeaders.PriorAttempts] = priorAttempts.Value.ToString(CultureInfo.InvariantCulture);
        }

        return new OutgoingBrokerMessage(
            message.Body,
            BrokerId(message.MessageId),
            BrokerId(message.Headers.TryGetValue(MessageHeaders.CorrelationId, out var correlation) ? correlation : null),
            visibleAt,
            properties);
    }

    /// <summary>The bus form of a received message: custom properties as headers, the message id filled from the
    /// broker when absent, and the prior-attempts header taken out (returned separately).</summary>
    public static (TransportMessage Message, int PriorAttempts) FromBroker(LockedBrokerMessage locked, bool stripDeadLetterProperties = false)
    {
        var headers = new Dictionary<string, string>(locked.Properties, StringComparer.Ordinal);
        var prior = 0;
        if (headers.Remove(MessageHeaders.PriorAttempts, out var priorText))
        {
            _ = int.TryParse(priorText, NumberStyles.Integer, CultureInfo.InvariantCulture, out prior);
            prior = Math.Max(0, prior);
        }

        if (stripDeadLetterProperties)
        {
            headers.Remove(DeadLetterReason);
            headers.Remove(DeadLetterErrorDescription);
        }

        if (!headers.ContainsKey(MessageHeaders.MessageId))
        {
            headers[MessageHeaders.MessageId] = locked.MessageId ?? locked.SequenceNumber.ToString(CultureInfo.InvariantCulture);
        }

        return (new TransportMessage(headers, locked.Body), prior);
    }

    private static string? BrokerId(string? id) => id is { Length: > 0 and <= MaxBrokerIdLength } ? id : null;
}

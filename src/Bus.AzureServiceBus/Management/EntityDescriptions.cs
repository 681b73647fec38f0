using System.Xml;
using System.Xml.Linq;

namespace Bus.AzureServiceBus.Management;

/// <summary>
/// Atom entries for the management API (<c>PUT {entity}?api-version=2021-05</c>). Service Bus validates the
/// description against an ordered schema, so elements are written in the schema's order.
/// </summary>
internal static class EntityDescriptions
{
    /// <summary>The Atom namespace.</summary>
    public static readonly XNamespace Atom = "http://www.w3.org/2005/Atom";

    /// <summary>The Service Bus description namespace.</summary>
    public static readonly XNamespace ServiceBus = "http://schemas.microsoft.com/netservices/2010/10/servicebus/connect";

    /// <summary>A queue: LockDuration, RequiresSession, DeadLetteringOnMessageExpiration, MaxDeliveryCount,
    /// EnableBatchedOperations (schema order). Expired messages are dead-lettered, never dropped.</summary>
    public static string Queue(TimeSpan lockDuration, int maxDeliveryCount) =>
        Entry("QueueDescription",
            Element("LockDuration", XmlConvert.ToString(lockDuration)),
            Element("RequiresSession", "false"),
            Element("DeadLetteringOnMessageExpiration", "true"),
            Element("MaxDeliveryCount", XmlConvert.ToString(maxDeliveryCount)),
            Element("EnableBatchedOperations", "true"));

    /// <summary>A topic.</summary>
    public static string Topic() =>
        Entry("TopicDescription",
            Element("EnableBatchedOperations", "true"));

    /// <summary>A subscription that forwards everything to <paramref name="forwardToUri"/>: LockDuration,
    /// RequiresSession, DeadLetteringOnMessageExpiration, DeadLetteringOnFilterEvaluationExceptions, MaxDeliveryCount,
    /// EnableBatchedOperations, ForwardTo (schema order).</summary>
    public static string Subscription(TimeSpan lockDuration, int maxDeliveryCount, string forwardToUri) =>
        Entry("SubscriptionDescription",
            Element("LockDuration", XmlConvert.ToString(lockDuration)),
            Element("RequiresSession", "false"),
            Element("DeadLetteringOnMessageExpiration", "true"),
            Element("DeadLetteringOnFilterEvaluationExceptions", "true"),
            Element("MaxDeliveryCount", XmlConvert.ToString(maxDeliveryCount)),
            Element("EnableBatchedOperations", "true"),
            Element("ForwardTo", forwardToUri));

    /// <summary>The settable elements of a subscription description, in the order the service expects them written (the
    /// order the official SDK writes them in). What a read returns besides these (message counts, timestamps,
    /// availability) is the service's to keep, not to be written back.</summary>
    private static readonly string[] SettableSubscriptionElements =
    [
        "LockDuration", "RequiresSession", "DefaultMessageTimeToLive", "DeadLetteringOnMessageExpiration",
        "DeadLetteringOnFilterEvaluationExceptions", "MaxDeliveryCount", "EnableBatchedOperations", "Status", "ForwardTo",
        "UserMetadata", "ForwardDeadLetteredMessagesTo", "AutoDeleteOnIdle",
    ];

    /// <summary>How a read shows "never" for a duration (TimeSpan.MaxValue): left out when written, as the SDK does.</summary>
    private static readonly string Unlimited = XmlConvert.ToString(TimeSpan.MaxValue);

    /// <summary>An update of an existing subscription that makes it forward to <paramref name="forwardToUri"/> and keeps
    /// every other setting it has (lock duration, delivery count, time to live, auto-delete, dead-letter forwarding...):
    /// an update replaces the whole description, so what is left out would fall back to its default.</summary>
    public static string ForwardingUpdate(XElement existing, string forwardToUri)
    {
        ArgumentNullException.ThrowIfNull(existing);
        var elements = new List<XElement>();
        foreach (var name in SettableSubscriptionElements)
        {
            if (name == "ForwardTo")
            {
                elements.Add(Element("ForwardTo", forwardToUri));
            }
            else if (existing.Element(ServiceBus + name) is { } kept && !kept.IsEmpty && kept.Value != Unlimited)
            {
                elements.Add(Element(name, kept.Value));
            }
        }

        return Entry("SubscriptionDescription", [.. elements]);
    }

    private static XElement Element(string name, string value) => new(ServiceBus + name, value);

    private static string Entry(string description, params XElement[] elements)
    {
        var entry = new XElement(Atom + "entry",
            new XElement(Atom + "content",
                new XAttribute("type", "application/xml"),
                new XElement(ServiceBus + description,
                    new XAttribute(XNamespace.Xmlns + "i", "http://www.w3.org/2001/XMLSchema-instance"),
                    elements)));
        return entry.ToString(SaveOptions.DisableFormatting);
    }
}

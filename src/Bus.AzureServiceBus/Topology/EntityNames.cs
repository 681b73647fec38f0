using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Bus.AzureServiceBus.Topology;

/// <summary>
/// Maps logical names (endpoint names, event wire names) to Service Bus entity names: the prefix is prepended, any
/// character outside letters, digits, '.', '-' and '_' becomes '-', names start and end with a letter or digit, and
/// stay within the length limits (queues and topics 260, subscriptions 50). When a name had to change, a short hash
/// of the original keeps two different logical names from landing on one entity.
/// </summary>
internal sealed class EntityNames(string prefix)
{
    private const int MaxEntityLength = 260;
    private const int MaxSubscriptionLength = 50;

    /// <summary>The queue of an endpoint.</summary>
    public string Queue(string logicalName) => Sanitize(prefix + logicalName, MaxEntityLength);

    /// <summary>The suffix of an endpoint's priority queue.</summary>
    public const string PrioritySuffix = "-priority";

    /// <summary>The priority queue of an endpoint.</summary>
    public string PriorityQueue(string logicalName) => PriorityQueueOf(Queue(logicalName));

    /// <summary>The priority queue of the endpoint whose queue entity is <paramref name="queueEntity"/>.</summary>
    public static string PriorityQueueOf(string queueEntity) => Sanitize(queueEntity + PrioritySuffix, MaxEntityLength);

    /// <summary>An endpoint named like another endpoint's priority queue ("x-priority") would share that queue with
    /// endpoint "x" (with priority queues on or off, as another endpoint may have them on): refused before anything is
    /// made.</summary>
    public static void RefusePrioritySuffix(string endpoint)
    {
        if (endpoint.EndsWith(PrioritySuffix, StringComparison.OrdinalIgnoreCase))
        {
            throw new BusConfigurationException(
                $"The endpoint name '{endpoint}' ends with '{PrioritySuffix}', which names the priority queue of endpoint " +
                $"'{endpoint[..^PrioritySuffix.Length]}' on Service Bus. Choose an endpoint name that does not end with '{PrioritySuffix}'.");
        }
    }

    /// <summary>The topic of an event.</summary>
    public string Topic(string logicalName) => Sanitize(prefix + logicalName, MaxEntityLength);

    /// <summary>The subscription name of an endpoint on a topic.</summary>
    public string SubscriptionName(string endpointLogicalName) => Sanitize(endpointLogicalName, MaxSubscriptionLength);

    /// <summary>Whether a prefix is usable as given.</summary>
    public static bool IsValidPrefix(string prefix) =>
        prefix.Length <= 50 && char.IsAsciiLetterOrDigit(prefix[0]) && prefix.All(IsAllowed);

    /// <summary>A valid entity name for <paramref name="name"/>, at most <paramref name="maxLength"/> characters.</summary>
    public static string Sanitize(string name, int maxLength)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var builder = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            builder.Append(IsAllowed(c) ? c : '-');
        }

        var cleaned = builder.ToString().Trim('-', '.', '_');
        if (cleaned == name && cleaned.Length <= maxLength)
        {
            return cleaned;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..8];
        var room = maxLength - hash.Length - 1;
        if (cleaned.Length > room)
        {
            cleaned = cleaned[..room].TrimEnd('-', '.', '_');
        }

        return cleaned.Length == 0 ? hash : string.Create(CultureInfo.InvariantCulture, $"{cleaned}-{hash}");
    }

    private static bool IsAllowed(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_';
}

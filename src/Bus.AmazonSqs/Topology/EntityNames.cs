using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Bus.AmazonSqs.Topology;

/// <summary>
/// Maps logical queue and topic names to SQS and SNS names: the prefix is prepended, characters other than letters,
/// digits, '-' and '_' become '-', and names stay within the length limits (queues 80 with the dead-letter suffix,
/// topics 256). A name that is already valid is used as it is; when a name had to change, a short hash of the
/// original is appended, so that two logical names (e.g. "billing.month-closed" and "billing-month-closed") never land
/// on one queue or topic.
/// </summary>
internal sealed class EntityNames(string prefix)
{
    public const string DeadLetterSuffix = "-dlq";
    public const string PrioritySuffix = "-priority";
    private const int MaxQueueName = 80;
    private const int MaxTopicName = 256;
    private const int HashLength = 8;

    /// <summary>The SQS name of an endpoint queue (leaves room for the dead-letter suffix).</summary>
    public string Queue(string logical) => Sanitize(prefix + logical, MaxQueueName - DeadLetterSuffix.Length);

    /// <summary>The SQS name of an endpoint queue's dead-letter queue.</summary>
    public string DeadLetterQueue(string logical) => Queue(logical) + DeadLetterSuffix;

    /// <summary>The SQS name of an endpoint queue's priority queue.</summary>
    public string PriorityQueue(string logical) => PriorityQueueOf(Queue(logical));

    /// <summary>The SQS name of the priority queue of the endpoint queue named <paramref name="queueName"/> in SQS.</summary>
    public static string PriorityQueueOf(string queueName) => Sanitize(queueName, MaxQueueName - PrioritySuffix.Length) + PrioritySuffix;

    /// <summary>An endpoint named like another endpoint's dead-letter or priority queue ("x-dlq", "x-priority") would
    /// share that queue with endpoint "x": refused before anything is made.</summary>
    public static void RefuseReservedSuffix(string endpoint)
    {
        foreach (var suffix in new[] { DeadLetterSuffix, PrioritySuffix })
        {
            if (endpoint.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                throw new BusConfigurationException(
                    $"The endpoint name '{endpoint}' ends with '{suffix}', which names the {(suffix == DeadLetterSuffix ? "dead-letter" : "priority")} queue of " +
                    $"endpoint '{endpoint[..^suffix.Length]}' on SQS. Choose an endpoint name that does not end with '{DeadLetterSuffix}' or '{PrioritySuffix}'.");
            }
        }
    }

    /// <summary>The SNS name of a topic (an event's wire name).</summary>
    public string Topic(string logical) => Sanitize(prefix + logical, MaxTopicName);

    /// <summary>A valid SQS/SNS name for <paramref name="name"/>, at most <paramref name="maxLength"/> characters:
    /// <paramref name="name"/> itself when it is valid, else its cleaned form with a hash of the original.</summary>
    internal static string Sanitize(string name, int maxLength)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var builder = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-');
        }

        var clean = builder.ToString();
        if (clean == name && clean.Length <= maxLength)
        {
            return clean;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..HashLength];
        var room = maxLength - HashLength - 1;
        return string.Create(CultureInfo.InvariantCulture, $"{(clean.Length > room ? clean[..room] : clean)}-{hash}");
    }
}

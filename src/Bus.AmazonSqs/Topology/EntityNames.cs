using System.Security.Cryptography;
using System.Text;

namespace Bus.AmazonSqs.Topology;

/// <summary>Maps logical queue and topic names to SQS and SNS names: prefix, characters other than letters, digits,
/// '-' and '_' replaced by '-', and names too long shortened with a hash suffix so they stay unique.</summary>
internal sealed class EntityNames(string prefix)
{
    public const string DeadLetterSuffix = "-dlq";
    private const int MaxQueueName = 80;
    private const int MaxTopicName = 256;

    /// <summary>The SQS name of an endpoint queue (leaves room for the dead-letter suffix).</summary>
    public string Queue(string logical) => Sanitize(prefix + logical, MaxQueueName - DeadLetterSuffix.Length);

    /// <summary>The SQS name of an endpoint queue's dead-letter queue.</summary>
    public string DeadLetterQueue(string logical) => Queue(logical) + DeadLetterSuffix;

    /// <summary>The SNS name of a topic (an event's wire name).</summary>
    public string Topic(string logical) => Sanitize(prefix + logical, MaxTopicName);

    internal static string Sanitize(string name, int maxLength)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var builder = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-');
        }

        var clean = builder.ToString();
        if (clean.Length <= maxLength)
        {
            return clean;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..8];
        return $"{clean[..(maxLength - 9)]}-{hash}";
    }
}

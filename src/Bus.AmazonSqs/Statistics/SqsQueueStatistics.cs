using System.Globalization;
using Amazon.SQS;
using Amazon.SQS.Model;
using Bus.AmazonSqs.Topology;
using Bus.Transports;

namespace Bus.AmazonSqs.Statistics;

/// <summary>
/// Queue counts from SQS's own (approximate) queue attributes: ApproximateNumberOfMessages (ready),
/// ApproximateNumberOfMessagesNotVisible (in flight), ApproximateNumberOfMessagesDelayed (delayed), and the dead-letter
/// queue's three counts added up (dead-lettered). SQS gives the age of the oldest message only as the CloudWatch metric
/// ApproximateAgeOfOldestMessage, not through the SQS API, so <see cref="QueueStatistics.OldestMessageAge"/> is null.
/// Endpoint queues are listed as the queues (under the prefix) that have a <c>-dlq</c> queue next to them. An endpoint's
/// priority queue (<c>-priority</c>) is not listed of its own: its counts are added to its endpoint queue's.
/// </summary>
internal sealed class SqsQueueStatistics(IAmazonSQS sqs, SqsTopology topology, string prefix, TimeProvider time) : IQueueStatistics
{
    private const string Ready = "ApproximateNumberOfMessages";
    private const string NotVisible = "ApproximateNumberOfMessagesNotVisible";
    private const string Delayed = "ApproximateNumberOfMessagesDelayed";
    private static readonly List<string> Counts = [Ready, NotVisible, Delayed];

    public async Task<IReadOnlyList<string>> ListQueuesAsync(CancellationToken cancellationToken)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        string? next = null;
        do
        {
            var request = new ListQueuesRequest { MaxResults = 1000, NextToken = next };
            if (prefix.Length > 0)
            {
                request.QueueNamePrefix = prefix;
            }

            var response = await sqs.ListQueuesAsync(request, cancellationToken).ConfigureAwait(false);
            foreach (var url in response.QueueUrls ?? [])
            {
                names.Add(url[(url.LastIndexOf('/') + 1)..]);
            }

            next = response.NextToken;
        }
        while (!string.IsNullOrEmpty(next));

        return names
            .Where(n => !n.EndsWith(EntityNames.DeadLetterSuffix, StringComparison.Ordinal) && names.Contains(n + EntityNames.DeadLetterSuffix))
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
            .Select(n => n[prefix.Length..])
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    public async Task<QueueStatistics> GetAsync(string queue, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        var input = await topology.FindByNameAsync(topology.Names.Queue(queue), cancellationToken).ConfigureAwait(false);
        var dlq = await topology.FindDeadLetterQueueAsync(queue, cancellationToken).ConfigureAwait(false);
        var priority = await topology.FindByNameAsync(topology.Names.PriorityQueue(queue), cancellationToken).ConfigureAwait(false);
        var counts = input is null ? null : await topology.GetAttributesAsync(input.Url, Counts, cancellationToken).ConfigureAwait(false);
        var urgent = priority is null ? null : await topology.GetAttributesAsync(priority.Url, Counts, cancellationToken).ConfigureAwait(false);
        var dead = dlq is null ? null : await topology.GetAttributesAsync(dlq.Url, Counts, cancellationToken).ConfigureAwait(false);
        return new QueueStatistics(
            queue,
            Read(counts, Ready) + Read(urgent, Ready),
            Read(counts, NotVisible) + Read(urgent, NotVisible),
            Read(counts, Delayed) + Read(urgent, Delayed),
            Read(dead, Ready) + Read(dead, NotVisible) + Read(dead, Delayed),
            OldestMessageAge: null,
            time.GetUtcNow());
    }

    private static long Read(IReadOnlyDictionary<string, string>? attributes, string name) =>
        attributes?.GetValueOrDefault(name) is { } text && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;
}

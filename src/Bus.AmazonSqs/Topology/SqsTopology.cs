using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Amazon.SQS;
using Amazon.SQS.Model;
using Bus.AmazonSqs.Sns;
using Bus.AmazonSqs.Sqs;
using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.AmazonSqs.Topology;

/// <summary>A queue the transport resolved: its URL, ARN and MaximumMessageSize.</summary>
internal sealed record QueueInfo(string Name, string Url, string Arn, long MaxMessageSize);

/// <summary>
/// Resolves (and caches) queue URLs, ARNs, size limits and topic ARNs, and provisions an endpoint's entities: its
/// queue with a dead-letter queue and RedrivePolicy, the topics it publishes, and an SQS subscription with raw
/// delivery to every topic it subscribes to, with a queue policy letting those topics send. An existing subscription
/// without raw delivery gets it turned on (or, in verify-only mode, is reported).
/// </summary>
internal sealed class SqsTopology(IAmazonSQS sqs, ISnsClient sns, EntityNames names, SqsTransportOptions options, int maxReceiveCount, ILogger logger)
{
    private const string DeadLetterRetention = "1209600"; // 14 days, the SQS maximum
    private const string RawMessageDelivery = "RawMessageDelivery";
    private static readonly List<string> QueueAttributes = ["QueueArn", "MaximumMessageSize"];

    private readonly ConcurrentDictionary<string, QueueInfo> _queues = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _topics = new(StringComparer.Ordinal);

    public EntityNames Names => names;

    /// <summary>The smallest MaximumMessageSize of the endpoint queues provisioned so far, or null.</summary>
    public long? SmallestInputQueueLimit { get; private set; }

    /// <summary>Drops a cached queue (it was deleted behind our back); the next use resolves it again.</summary>
    public void Forget(string name) => _queues.TryRemove(name, out _);

    /// <summary>An endpoint queue by logical name; throws when it does not exist.</summary>
    public async Task<QueueInfo> GetQueueAsync(string logical, CancellationToken cancellationToken)
    {
        var name = names.Queue(logical);
        return await FindByNameAsync(name, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException(
                $"SQS queue '{name}' (for '{logical}') does not exist. The endpoint that owns it creates it at start-up " +
                "(ProvisioningMode.CreateIfMissing), or create it with your infrastructure tooling.");
    }

    /// <summary>The priority queue of an endpoint queue by logical name; throws when it does not exist.</summary>
    public async Task<QueueInfo> GetPriorityQueueAsync(string logical, CancellationToken cancellationToken)
    {
        var name = names.PriorityQueue(logical);
        return await FindByNameAsync(name, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException(
                $"SQS priority queue '{name}' (for '{logical}') does not exist. The endpoint that owns '{logical}' creates it at start-up " +
                "when SqsTransportOptions.PriorityQueue is on (ProvisioningMode.CreateIfMissing), or create it with your infrastructure tooling " +
                "(with the RedrivePolicy of the queue); or send without a priority.");
    }

    /// <summary>The dead-letter queue of an endpoint queue, or null when it does not exist.</summary>
    public Task<QueueInfo?> FindDeadLetterQueueAsync(string logical, CancellationToken cancellationToken) =>
        FindByNameAsync(names.DeadLetterQueue(logical), cancellationToken);

    /// <summary>A queue by its SQS name, or null when it does not exist.</summary>
    public async Task<QueueInfo?> FindByNameAsync(string name, CancellationToken cancellationToken)
    {
        if (_queues.TryGetValue(name, out var cached))
        {
            return cached;
        }

        var url = await GetQueueUrlAsync(name, cancellationToken).ConfigureAwait(false);
        return url is null ? null : await DescribeAsync(name, url, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The ARN of a topic: created when missing (CreateTopic is idempotent) or, in verify-only mode, looked up.</summary>
    public async Task<string> GetTopicArnAsync(string logical, CancellationToken cancellationToken)
    {
        var name = names.Topic(logical);
        if (_topics.TryGetValue(name, out var arn))
        {
            return arn;
        }

        arn = options.ProvisioningMode == ProvisioningMode.CreateIfMissing
            ? await sns.CreateTopicAsync(name, cancellationToken).ConfigureAwait(false)
            : await sns.FindTopicAsync(name, cancellationToken).ConfigureAwait(false)
              ?? throw new InvalidOperationException($"SNS topic '{name}' (for '{logical}') does not exist and ProvisioningMode is VerifyOnly.");
        _topics[name] = arn;
        return arn;
    }

    public Task ProvisionAsync(TransportTopology topology, CancellationToken cancellationToken)
    {
        EntityNames.RefuseReservedSuffix(topology.InputQueue);
        return options.ProvisioningMode == ProvisioningMode.CreateIfMissing
            ? CreateAsync(topology, cancellationToken)
            : VerifyAsync(topology, cancellationToken);
    }

    private async Task CreateAsync(TransportTopology topology, CancellationToken cancellationToken)
    {
        var dlqName = names.DeadLetterQueue(topology.InputQueue);
        var dlq = await FindByNameAsync(dlqName, cancellationToken).ConfigureAwait(false);
        if (dlq is null)
        {
            var url = await CreateQueueAsync(dlqName, new Dictionary<string, string> { ["MessageRetentionPeriod"] = DeadLetterRetention }, cancellationToken).ConfigureAwait(false);
            dlq = await DescribeAsync(dlqName, url, cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Created SQS dead-letter queue {Queue}", dlqName);
        }

        var name = names.Queue(topology.InputQueue);
        var redrive = RedrivePolicy(dlq.Arn);
        var queueUrl = await GetQueueUrlAsync(name, cancellationToken).ConfigureAwait(false);
        if (queueUrl is null)
        {
            queueUrl = await CreateQueueAsync(name, new Dictionary<string, string> { ["RedrivePolicy"] = redrive }, cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Created SQS queue {Queue} with dead-letter queue {DeadLetterQueue}", name, dlqName);
        }
        else
        {
            var current = await GetAttributesAsync(queueUrl, ["RedrivePolicy"], cancellationToken).ConfigureAwait(false);
            if (!RedriveMatches(current.GetValueOrDefault("RedrivePolicy"), dlq.Arn))
            {
                await SetAttributesAsync(queueUrl, new Dictionary<string, string> { ["RedrivePolicy"] = redrive }, cancellationToken).ConfigureAwait(false);
                logger.LogInformation("Set the RedrivePolicy of SQS queue {Queue} to {DeadLetterQueue}", name, dlqName);
            }
        }

        _queues.TryRemove(name, out _);
        var queue = await DescribeAsync(name, queueUrl, cancellationToken).ConfigureAwait(false);
        NoteInputQueue(queue);
        if (options.PriorityQueue)
        {
            await CreatePriorityQueueAsync(topology.InputQueue, dlq, cancellationToken).ConfigureAwait(false);
        }

        foreach (var topic in topology.PublishedTopics)
        {
            await GetTopicArnAsync(topic, cancellationToken).ConfigureAwait(false);
        }

        if (topology.Subscriptions.Count == 0)
        {
            return;
        }

        var topicArns = new List<string>();
        foreach (var topic in topology.Subscriptions)
        {
            var topicArn = await GetTopicArnAsync(topic, cancellationToken).ConfigureAwait(false);
            topicArns.Add(topicArn);
            var subscriptions = await sns.ListSubscriptionsAsync(topicArn, cancellationToken).ConfigureAwait(false);
            var existing = subscriptions.FirstOrDefault(s => s.Protocol == "sqs" && s.Endpoint == queue.Arn);
            if (existing is null)
            {
                await sns.SubscribeQueueAsync(topicArn, queue.Arn, cancellationToken).ConfigureAwait(false);
                logger.LogInformation("Subscribed SQS queue {Queue} to SNS topic {Topic} (raw delivery)", name, topicArn);
            }
            else if (!IsConfirmed(existing))
            {
                logger.LogWarning("The subscription of SQS queue {Queue} to SNS topic {Topic} is {State}; its raw message delivery cannot be checked until it is confirmed",
                    name, topicArn, existing.SubscriptionArn);
            }
            else if (!await HasRawDeliveryAsync(existing, cancellationToken).ConfigureAwait(false))
            {
                // Without raw delivery SNS wraps every event in a JSON envelope the endpoint cannot read.
                await sns.SetSubscriptionAttributeAsync(existing.SubscriptionArn, RawMessageDelivery, "true", cancellationToken).ConfigureAwait(false);
                logger.LogInformation("Turned on raw message delivery of subscription {Subscription} (SQS queue {Queue}, SNS topic {Topic})",
                    existing.SubscriptionArn, name, topicArn);
            }
        }

        var attributes = await GetAttributesAsync(queue.Url, ["Policy"], cancellationToken).ConfigureAwait(false);
        var policy = attributes.GetValueOrDefault("Policy");
        var allowed = QueuePolicy.AllowedTopics(policy);
        if (!topicArns.All(allowed.Contains))
        {
            var merged = QueuePolicy.Merge(policy, queue.Arn, allowed.Concat(topicArns));
            await SetAttributesAsync(queue.Url, new Dictionary<string, string> { ["Policy"] = merged }, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Creates the priority queue of an endpoint queue, or sets its RedrivePolicy to the endpoint's dead-letter
    /// queue when it differs.</summary>
    private async Task CreatePriorityQueueAsync(string logical, QueueInfo dlq, CancellationToken cancellationToken)
    {
        var name = names.PriorityQueue(logical);
        var redrive = RedrivePolicy(dlq.Arn);
        var url = await GetQueueUrlAsync(name, cancellationToken).ConfigureAwait(false);
        if (url is null)
        {
            url = await CreateQueueAsync(name, new Dictionary<string, string> { ["RedrivePolicy"] = redrive }, cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Created SQS priority queue {Queue} with dead-letter queue {DeadLetterQueue}", name, dlq.Name);
        }
        else
        {
            var current = await GetAttributesAsync(url, ["RedrivePolicy"], cancellationToken).ConfigureAwait(false);
            if (!RedriveMatches(current.GetValueOrDefault("RedrivePolicy"), dlq.Arn))
            {
                await SetAttributesAsync(url, new Dictionary<string, string> { ["RedrivePolicy"] = redrive }, cancellationToken).ConfigureAwait(false);
                logger.LogInformation("Set the RedrivePolicy of SQS priority queue {Queue} to {DeadLetterQueue}", name, dlq.Name);
            }
        }

        _queues.TryRemove(name, out _);
        NoteInputQueue(await DescribeAsync(name, url, cancellationToken).ConfigureAwait(false));
    }

    private async Task VerifyAsync(TransportTopology topology, CancellationToken cancellationToken)
    {
        var missing = new List<string>();
        var dlqName = names.DeadLetterQueue(topology.InputQueue);
        var name = names.Queue(topology.InputQueue);
        var dlq = await FindByNameAsync(dlqName, cancellationToken).ConfigureAwait(false);
        if (dlq is null)
        {
            missing.Add($"dead-letter queue '{dlqName}'");
        }

        var queue = await FindByNameAsync(name, cancellationToken).ConfigureAwait(false);
        if (queue is null)
        {
            missing.Add($"queue '{name}' (with RedrivePolicy to '{dlqName}', maxReceiveCount {maxReceiveCount})");
        }
        else
        {
            NoteInputQueue(queue);
            var attributes = await GetAttributesAsync(queue.Url, ["RedrivePolicy", "Policy"], cancellationToken).ConfigureAwait(false);
            if (dlq is not null && !RedriveTargets(attributes.GetValueOrDefault("RedrivePolicy"), dlq.Arn))
            {
                missing.Add($"RedrivePolicy on queue '{name}' to '{dlqName}'");
            }

            var allowed = QueuePolicy.AllowedTopics(attributes.GetValueOrDefault("Policy"));
            foreach (var topic in topology.Subscriptions)
            {
                var topicName = names.Topic(topic);
                var arn = await FindTopicAsync(topicName, cancellationToken).ConfigureAwait(false);
                if (arn is null)
                {
                    continue; // reported below
                }

                var subscriptions = await sns.ListSubscriptionsAsync(arn, cancellationToken).ConfigureAwait(false);
                var existing = subscriptions.FirstOrDefault(s => s.Protocol == "sqs" && s.Endpoint == queue.Arn);
                if (existing is null)
                {
                    missing.Add($"subscription of queue '{name}' to topic '{topicName}' (protocol sqs, RawMessageDelivery=true)");
                }
                else if (!IsConfirmed(existing))
                {
                    missing.Add($"confirmation of the subscription of queue '{name}' to topic '{topicName}' (it is {existing.SubscriptionArn})");
                }
                else if (!await HasRawDeliveryAsync(existing, cancellationToken).ConfigureAwait(false))
                {
                    missing.Add($"RawMessageDelivery=true on subscription '{existing.SubscriptionArn}' of queue '{name}' to topic '{topicName}' " +
                                "(without it SNS wraps each event in a JSON envelope the endpoint cannot read)");
                }

                if (!allowed.Contains(arn))
                {
                    missing.Add($"queue policy statement on '{name}' allowing sns.amazonaws.com sqs:SendMessage from '{topicName}'");
                }
            }
        }

        if (options.PriorityQueue)
        {
            var priorityName = names.PriorityQueue(topology.InputQueue);
            var priority = await FindByNameAsync(priorityName, cancellationToken).ConfigureAwait(false);
            if (priority is null)
            {
                missing.Add($"priority queue '{priorityName}' (with RedrivePolicy to '{dlqName}', maxReceiveCount {maxReceiveCount}; or set SqsTransportOptions.PriorityQueue = false)");
            }
            else
            {
                NoteInputQueue(priority);
                var attributes = await GetAttributesAsync(priority.Url, ["RedrivePolicy"], cancellationToken).ConfigureAwait(false);
                if (dlq is not null && !RedriveTargets(attributes.GetValueOrDefault("RedrivePolicy"), dlq.Arn))
                {
                    missing.Add($"RedrivePolicy on priority queue '{priorityName}' to '{dlqName}'");
                }
            }
        }

        foreach (var topic in topology.PublishedTopics.Concat(topology.Subscriptions).Distinct(StringComparer.Ordinal))
        {
            var topicName = names.Topic(topic);
            if (await FindTopicAsync(topicName, cancellationToken).ConfigureAwait(false) is null)
            {
                missing.Add($"topic '{topicName}'");
            }
        }

        if (missing.Count > 0)
        {
            throw new InvalidOperationException(
                $"ProvisioningMode is VerifyOnly and the SQS/SNS topology of endpoint '{topology.InputQueue}' is incomplete. Missing: " +
                string.Join("; ", missing.Distinct(StringComparer.Ordinal)) + ".");
        }
    }

    /// <summary>Whether a listed subscription is confirmed: it then has an ARN, else "PendingConfirmation".</summary>
    private static bool IsConfirmed(SnsSubscription subscription) =>
        subscription.SubscriptionArn.StartsWith("arn:", StringComparison.Ordinal);

    private async Task<bool> HasRawDeliveryAsync(SnsSubscription subscription, CancellationToken cancellationToken)
    {
        var attributes = await sns.GetSubscriptionAttributesAsync(subscription.SubscriptionArn, cancellationToken).ConfigureAwait(false);
        return string.Equals(attributes.GetValueOrDefault(RawMessageDelivery), "true", StringComparison.OrdinalIgnoreCase);
    }

    private async Task<string?> FindTopicAsync(string name, CancellationToken cancellationToken)
    {
        if (_topics.TryGetValue(name, out var arn))
        {
            return arn;
        }

        arn = await sns.FindTopicAsync(name, cancellationToken).ConfigureAwait(false);
        if (arn is not null)
        {
            _topics[name] = arn;
        }

        return arn;
    }

    private async Task<QueueInfo> DescribeAsync(string name, string url, CancellationToken cancellationToken)
    {
        var attributes = await GetAttributesAsync(url, QueueAttributes, cancellationToken).ConfigureAwait(false);
        var arn = attributes.GetValueOrDefault("QueueArn") ?? throw new AmazonSqsException("sqs", "GetQueueAttributes", "MalformedResponse", $"No QueueArn for '{name}'.", null);
        var size = long.TryParse(attributes.GetValueOrDefault("MaximumMessageSize"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var s) ? s : 262_144;
        var info = new QueueInfo(name, url, arn, size);
        _queues[name] = info;
        return info;
    }

    /// <summary>The attributes of a queue (all when <paramref name="names"/> is empty).</summary>
    public async Task<IReadOnlyDictionary<string, string>> GetAttributesAsync(string queueUrl, IReadOnlyList<string> names, CancellationToken cancellationToken)
    {
        var response = await sqs.GetQueueAttributesAsync(
            new GetQueueAttributesRequest { QueueUrl = queueUrl, AttributeNames = names.Count == 0 ? ["All"] : [.. names] }, cancellationToken).ConfigureAwait(false);
        return response.Attributes ?? [];
    }

    private async Task<string?> GetQueueUrlAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            var response = await sqs.GetQueueUrlAsync(new GetQueueUrlRequest { QueueName = name }, cancellationToken).ConfigureAwait(false);
            return response.QueueUrl;
        }
        catch (AmazonSQSException e) when (SqsErrors.IsQueueMissing(e))
        {
            return null;
        }
    }

    private async Task<string> CreateQueueAsync(string name, Dictionary<string, string> attributes, CancellationToken cancellationToken)
    {
        var response = await sqs.CreateQueueAsync(new CreateQueueRequest { QueueName = name, Attributes = attributes }, cancellationToken).ConfigureAwait(false);
        return response.QueueUrl;
    }

    private Task SetAttributesAsync(string queueUrl, Dictionary<string, string> attributes, CancellationToken cancellationToken) =>
        sqs.SetQueueAttributesAsync(new SetQueueAttributesRequest { QueueUrl = queueUrl, Attributes = attributes }, cancellationToken);

    private void NoteInputQueue(QueueInfo queue)
    {
        lock (_queues)
        {
            SmallestInputQueueLimit = SmallestInputQueueLimit is { } current ? Math.Min(current, queue.MaxMessageSize) : queue.MaxMessageSize;
        }
    }

    private string RedrivePolicy(string deadLetterArn) =>
        new JsonObject
        {
            ["deadLetterTargetArn"] = deadLetterArn,
            ["maxReceiveCount"] = maxReceiveCount.ToString(CultureInfo.InvariantCulture),
        }.ToJsonString();

    private bool RedriveMatches(string? policy, string deadLetterArn) =>
        RedriveTargets(policy, deadLetterArn) && ReadMaxReceiveCount(policy) == maxReceiveCount;

    private static bool RedriveTargets(string? policy, string deadLetterArn) =>
        !string.IsNullOrWhiteSpace(policy) && JsonNode.Parse(policy)?["deadLetterTargetArn"]?.GetValue<string>() == deadLetterArn;

    private static int? ReadMaxReceiveCount(string? policy)
    {
        var node = string.IsNullOrWhiteSpace(policy) ? null : JsonNode.Parse(policy)?["maxReceiveCount"];
        return node switch
        {
            JsonValue v when v.TryGetValue<int>(out var i) => i,
            JsonValue v when v.TryGetValue<string>(out var s) && int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) => i,
            _ => null,
        };
    }
}

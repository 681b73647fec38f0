namespace Bus.AmazonSqs.Sns;

/// <summary>One entry of a PublishBatch.</summary>
internal sealed record SnsPublishEntry(string Id, string Message, IReadOnlyDictionary<string, string> Attributes);

/// <summary>A failed entry of a PublishBatch.</summary>
internal sealed record SnsBatchFailure(string Id, string Code, string Message, bool SenderFault);

/// <summary>An SQS subscription of a topic.</summary>
internal sealed record SnsSubscription(string SubscriptionArn, string Protocol, string Endpoint);

/// <summary>The SNS operations the transport uses. One implementation speaks the Query protocol over HttpClient;
/// the official SDK could replace it with a single class.</summary>
internal interface ISnsClient
{
    /// <summary>Creates the topic (idempotent) and returns its ARN.</summary>
    Task<string> CreateTopicAsync(string name, CancellationToken cancellationToken);

    /// <summary>The ARN of an existing topic, or null.</summary>
    Task<string?> FindTopicAsync(string name, CancellationToken cancellationToken);

    Task<string> SubscribeQueueAsync(string topicArn, string queueArn, CancellationToken cancellationToken);

    Task<IReadOnlyList<SnsSubscription>> ListSubscriptionsAsync(string topicArn, CancellationToken cancellationToken);

    /// <summary>The attributes of a subscription (e.g. RawMessageDelivery, FilterPolicy).</summary>
    Task<IReadOnlyDictionary<string, string>> GetSubscriptionAttributesAsync(string subscriptionArn, CancellationToken cancellationToken);

    /// <summary>Sets one attribute of a subscription.</summary>
    Task SetSubscriptionAttributeAsync(string subscriptionArn, string name, string value, CancellationToken cancellationToken);

    Task PublishAsync(string topicArn, SnsPublishEntry entry, CancellationToken cancellationToken);

    /// <summary>Publishes up to 10 entries; returns the failed ones.</summary>
    Task<IReadOnlyList<SnsBatchFailure>> PublishBatchAsync(string topicArn, IReadOnlyList<SnsPublishEntry> entries, CancellationToken cancellationToken);
}

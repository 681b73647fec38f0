namespace Bus.AmazonSqs.Sqs;

/// <summary>The SQS operations the transport uses. One implementation speaks AWS JSON 1.0 over HttpClient; the
/// official SDK could replace it with a single class.</summary>
internal interface ISqsClient
{
    Task<string> CreateQueueAsync(string name, IReadOnlyDictionary<string, string> attributes, CancellationToken cancellationToken);

    /// <summary>The queue's URL, or null when it does not exist.</summary>
    Task<string?> GetQueueUrlAsync(string name, CancellationToken cancellationToken);

    Task<IReadOnlyDictionary<string, string>> GetQueueAttributesAsync(string queueUrl, IReadOnlyList<string> names, CancellationToken cancellationToken);

    Task SetQueueAttributesAsync(string queueUrl, IReadOnlyDictionary<string, string> attributes, CancellationToken cancellationToken);

    /// <summary>Sends up to 10 entries; HTTP 200 may still carry failed entries.</summary>
    Task<BatchResponse> SendMessageBatchAsync(string queueUrl, IReadOnlyList<SendMessageBatchEntry> entries, CancellationToken cancellationToken);

    Task<IReadOnlyList<SqsMessage>> ReceiveMessageAsync(
        string queueUrl, int maxMessages, int waitTimeSeconds, int visibilityTimeoutSeconds, CancellationToken cancellationToken);

    Task<BatchResponse> DeleteMessageBatchAsync(string queueUrl, IReadOnlyList<ReceiptEntry> entries, CancellationToken cancellationToken);

    Task ChangeMessageVisibilityAsync(string queueUrl, string receiptHandle, int visibilityTimeoutSeconds, CancellationToken cancellationToken);

    Task<BatchResponse> ChangeMessageVisibilityBatchAsync(string queueUrl, IReadOnlyList<ReceiptEntry> entries, CancellationToken cancellationToken);

    /// <summary>Starts a native move of a dead-letter queue's messages back to their source queues.</summary>
    Task<string> StartMessageMoveTaskAsync(string sourceArn, string? destinationArn, CancellationToken cancellationToken);
}

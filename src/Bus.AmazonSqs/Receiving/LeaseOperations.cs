using System.Globalization;
using Bus.AmazonSqs.Batching;
using Bus.AmazonSqs.Sqs;
using Bus.Transports;

namespace Bus.AmazonSqs.Receiving;

/// <summary>A visibility change or deletion of one received message, addressed by receipt handle.</summary>
internal sealed record ReceiptOperation(string ReceiptHandle, int VisibilityTimeout, string MessageId, string QueueName);

/// <summary>
/// Lease operations on received messages, coalesced per queue: ChangeMessageVisibility(Batch) for renewals and
/// abandons, DeleteMessageBatch for completions. Stale receipt handles become <see cref="LeaseLostException"/>.
/// </summary>
internal sealed class LeaseOperations
{
    private readonly ISqsClient _sqs;
    private readonly RequestBatcher<ReceiptOperation> _visibility;
    private readonly RequestBatcher<ReceiptOperation> _deletes;

    public LeaseOperations(ISqsClient sqs, TimeSpan window)
    {
        _sqs = sqs;
        _visibility = new RequestBatcher<ReceiptOperation>(FlushVisibilityAsync, window);
        _deletes = new RequestBatcher<ReceiptOperation>(FlushDeletesAsync, window);
    }

    public Task ChangeVisibilityAsync(string queueUrl, ReceiptOperation operation, CancellationToken cancellationToken) =>
        _visibility.EnqueueAsync(queueUrl, operation, cancellationToken);

    public Task DeleteAsync(string queueUrl, ReceiptOperation operation, CancellationToken cancellationToken) =>
        _deletes.EnqueueAsync(queueUrl, operation, cancellationToken);

    /// <summary>Whether an SQS error means the receipt handle no longer holds the message.</summary>
    internal static bool IsStaleHandle(string? code, string? message)
    {
        if (code is "MessageNotInflight" or "ReceiptHandleIsInvalid" or "InvalidReceiptHandle"
            or "AWS.SimpleQueueService.MessageNotInflight" or "AWS.SimpleQueueService.ReceiptHandleIsInvalid")
        {
            return true;
        }

        if (code is "InvalidParameterValue" && message is not null)
        {
            return message.Contains("receipt handle", StringComparison.OrdinalIgnoreCase)
                || message.Contains("not available for visibility timeout change", StringComparison.OrdinalIgnoreCase)
                || message.Contains("has expired", StringComparison.OrdinalIgnoreCase);
        }

        return false;
    }

    internal static LeaseLostException LeaseLost(ReceiptOperation operation, string code, string? message, Exception? inner = null) =>
        new($"The lease on message '{operation.MessageId}' in SQS queue '{operation.QueueName}' was lost ({code}: {message}): " +
            "its visibility timeout expired and it may have been received again, or it was already settled.", inner);

    private async Task<IReadOnlyList<Exception?>> FlushVisibilityAsync(string queueUrl, IReadOnlyList<ReceiptOperation> items, CancellationToken cancellationToken)
    {
        if (items.Count == 1)
        {
            try
            {
                await _sqs.ChangeMessageVisibilityAsync(queueUrl, items[0].ReceiptHandle, items[0].VisibilityTimeout, cancellationToken).ConfigureAwait(false);
                return [null];
            }
            catch (AmazonSqsException e) when (IsStaleHandle(e.Code, e.ErrorMessage))
            {
                return [LeaseLost(items[0], e.Code, e.ErrorMessage, e)];
            }
        }

        var entries = items.Select((o, i) => new ReceiptEntry { Id = i.ToString(CultureInfo.InvariantCulture), ReceiptHandle = o.ReceiptHandle, VisibilityTimeout = o.VisibilityTimeout }).ToList();
        var response = await _sqs.ChangeMessageVisibilityBatchAsync(queueUrl, entries, cancellationToken).ConfigureAwait(false);
        return Outcomes(items, response, "ChangeMessageVisibilityBatch");
    }

    private async Task<IReadOnlyList<Exception?>> FlushDeletesAsync(string queueUrl, IReadOnlyList<ReceiptOperation> items, CancellationToken cancellationToken)
    {
        var entries = items.Select((o, i) => new ReceiptEntry { Id = i.ToString(CultureInfo.InvariantCulture), ReceiptHandle = o.ReceiptHandle }).ToList();
        var response = await _sqs.DeleteMessageBatchAsync(queueUrl, entries, cancellationToken).ConfigureAwait(false);
        return Outcomes(items, response, "DeleteMessageBatch");
    }

    private static Exception?[] Outcomes(IReadOnlyList<ReceiptOperation> items, BatchResponse response, string operation)
    {
        var outcomes = new Exception?[items.Count];
        foreach (var failure in response.Failed ?? [])
        {
            if (!int.TryParse(failure.Id, NumberStyles.Integer, CultureInfo.InvariantCulture, out var index) || index < 0 || index >= items.Count)
            {
                continue;
            }

            var item = items[index];
            outcomes[index] = IsStaleHandle(failure.Code, failure.Message)
                ? LeaseLost(item, failure.Code ?? "?", failure.Message)
                : new AmazonSqsException("sqs", operation, failure.Code ?? "Unknown", $"message '{item.MessageId}': {failure.Message}", null, failedMessageIds: [item.MessageId]);
        }

        return outcomes;
    }
}

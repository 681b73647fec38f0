using System.Globalization;
using Amazon.SQS;
using Amazon.SQS.Model;
using Bus.AmazonSqs.Batching;
using Bus.AmazonSqs.Sqs;
using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.AmazonSqs.Receiving;

/// <summary>A visibility change or deletion of one received message, addressed by receipt handle.</summary>
internal sealed record ReceiptOperation(string ReceiptHandle, int VisibilityTimeout, string MessageId, string QueueName);

/// <summary>
/// Lease operations on received messages, coalesced per queue: ChangeMessageVisibility(Batch) for renewals and
/// abandons, DeleteMessageBatch for completions. Stale receipt handles become <see cref="LeaseLostException"/>.
/// Completions need not wait for their delete (<see cref="Delete"/>): SQS answers a delete of a stale handle with
/// success anyway, so waiting would tell nothing, and not waiting lets deletes fill their batches while the worker
/// moves on. <see cref="FlushAsync"/> sends what is pending (at shutdown).
/// </summary>
internal sealed class LeaseOperations
{
    private readonly IAmazonSQS _sqs;
    private readonly ILogger _logger;
    private readonly RequestBatcher<ReceiptOperation> _visibility;
    private readonly RequestBatcher<ReceiptOperation> _deletes;

    /// <param name="sqs">The SQS client.</param>
    /// <param name="window">How long an operation waits for others to share its batch call.</param>
    /// <param name="batchClock">The clock of that window (the system clock but in tests).</param>
    /// <param name="logger">Where failed deletes are reported.</param>
    public LeaseOperations(IAmazonSQS sqs, TimeSpan window, TimeProvider batchClock, ILogger logger)
    {
        _sqs = sqs;
        _logger = logger;
        _visibility = new RequestBatcher<ReceiptOperation>(FlushVisibilityAsync, window, batchClock);
        _deletes = new RequestBatcher<ReceiptOperation>(FlushDeletesAsync, window, batchClock);
    }

    public Task ChangeVisibilityAsync(string queueUrl, ReceiptOperation operation, CancellationToken cancellationToken) =>
        _visibility.EnqueueAsync(queueUrl, operation, cancellationToken);

    /// <summary>Deletes and waits for the batch call's answer.</summary>
    public Task DeleteAsync(string queueUrl, ReceiptOperation operation, CancellationToken cancellationToken) =>
        _deletes.EnqueueAsync(queueUrl, operation, cancellationToken);

    /// <summary>Queues a delete without waiting for it; a failure is logged (the message is then delivered again when
    /// its visibility timeout ends: a duplicate, never a loss).</summary>
    public void Delete(string queueUrl, ReceiptOperation operation) =>
        _ = _deletes.EnqueueAsync(queueUrl, operation, CancellationToken.None).ContinueWith(
            (task, state) => _logger.LogWarning(task.Exception!.InnerException, "Could not delete completed message {MessageId} from SQS queue {Queue}; it will be delivered again when its visibility timeout ends",
                ((ReceiptOperation)state!).MessageId, ((ReceiptOperation)state!).QueueName),
            operation, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>Sends every pending operation now and waits for the calls under way.</summary>
    public Task FlushAsync() => Task.WhenAll(_deletes.FlushAllAsync(), _visibility.FlushAllAsync());

    internal static LeaseLostException LeaseLost(ReceiptOperation operation, string code, string? message, Exception? inner = null) =>
        new($"The lease on message '{operation.MessageId}' in SQS queue '{operation.QueueName}' was lost ({code}: {message}): " +
            "its visibility timeout expired and it may have been received again, or it was already settled.", inner);

    private async Task<IReadOnlyList<Exception?>> FlushVisibilityAsync(string queueUrl, IReadOnlyList<ReceiptOperation> items, CancellationToken cancellationToken)
    {
        if (items.Count == 1)
        {
            try
            {
                await _sqs.ChangeMessageVisibilityAsync(
                    new ChangeMessageVisibilityRequest { QueueUrl = queueUrl, ReceiptHandle = items[0].ReceiptHandle, VisibilityTimeout = items[0].VisibilityTimeout },
                    cancellationToken).ConfigureAwait(false);
                return [null];
            }
            catch (AmazonSQSException e) when (SqsErrors.IsStaleHandle(e))
            {
                return [LeaseLost(items[0], e.ErrorCode, e.Message, e)];
            }
        }

        var request = new ChangeMessageVisibilityBatchRequest
        {
            QueueUrl = queueUrl,
            Entries = items.Select((o, i) => new ChangeMessageVisibilityBatchRequestEntry
            {
                Id = i.ToString(CultureInfo.InvariantCulture),
                ReceiptHandle = o.ReceiptHandle,
                VisibilityTimeout = o.VisibilityTimeout,
            }).ToList(),
        };
        var response = await _sqs.ChangeMessageVisibilityBatchAsync(request, cancellationToken).ConfigureAwait(false);
        return Outcomes(items, response.Failed, "ChangeMessageVisibilityBatch");
    }

    private async Task<IReadOnlyList<Exception?>> FlushDeletesAsync(string queueUrl, IReadOnlyList<ReceiptOperation> items, CancellationToken cancellationToken)
    {
        var request = new DeleteMessageBatchRequest
        {
            QueueUrl = queueUrl,
            Entries = items.Select((o, i) => new DeleteMessageBatchRequestEntry { Id = i.ToString(CultureInfo.InvariantCulture), ReceiptHandle = o.ReceiptHandle }).ToList(),
        };
        var response = await _sqs.DeleteMessageBatchAsync(request, cancellationToken).ConfigureAwait(false);
        return Outcomes(items, response.Failed, "DeleteMessageBatch");
    }

    private static Exception?[] Outcomes(IReadOnlyList<ReceiptOperation> items, List<BatchResultErrorEntry>? failed, string operation)
    {
        var outcomes = new Exception?[items.Count];
        foreach (var failure in failed ?? [])
        {
            if (!int.TryParse(failure.Id, NumberStyles.Integer, CultureInfo.InvariantCulture, out var index) || index < 0 || index >= items.Count)
            {
                continue;
            }

            var item = items[index];
            outcomes[index] = SqsErrors.IsStaleHandle(failure.Code, failure.Message)
                ? LeaseLost(item, failure.Code ?? "?", failure.Message)
                : new AmazonSqsException("sqs", operation, failure.Code ?? "Unknown", $"message '{item.MessageId}': {failure.Message}", null, failedMessageIds: [item.MessageId]);
        }

        return outcomes;
    }
}

using System.Globalization;
using System.Net;
using Bus.AmazonSqs.Messages;
using Bus.AmazonSqs.Receiving;
using Bus.AmazonSqs.Sending;
using Bus.AmazonSqs.Sqs;
using Bus.AmazonSqs.Topology;
using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.AmazonSqs.DeadLetters;

/// <summary>
/// Dead letters of an endpoint queue, held in its <c>-dlq</c> queue. Peek receives them under a short visibility and
/// makes them visible again. Redrive moves them one receive batch at a time: send the original message (failure
/// headers removed, id and headers kept) to the endpoint queue, then delete the dead letter; messages that were not
/// selected are made visible again. Nothing is deleted before its copy was accepted. With
/// <see cref="SqsTransportOptions.UseMessageMoveTask"/> a redrive of all dead letters starts StartMessageMoveTask
/// instead, falling back to the mover where the service does not have it; the receive side strips the failure
/// headers such a native move leaves on the messages.
/// </summary>
internal sealed class SqsDeadLetterQueue(
    ISqsClient sqs, SqsTopology topology, MessageSender sender, LeaseOperations leases, SqsTransportOptions options, ILogger logger) : IDeadLetterQueue
{
    private const int HoldSeconds = 60;

    private int WaitSeconds => Math.Min(1, (int)options.WaitTime.TotalSeconds);

    public async Task<IReadOnlyList<DeadLetter>> PeekAsync(string queue, int maxCount, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        var dlq = await topology.FindDeadLetterQueueAsync(queue, cancellationToken).ConfigureAwait(false);
        if (dlq is null)
        {
            return [];
        }

        var held = new List<(SqsMessage Raw, TransportMessage Message)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            while (held.Count < maxCount)
            {
                var batch = await sqs.ReceiveMessageAsync(dlq.Url, Math.Min(10, maxCount - held.Count), WaitSeconds, HoldSeconds, cancellationToken).ConfigureAwait(false);
                var fresh = batch.Where(m => seen.Add(m.MessageId)).ToList();
                if (fresh.Count == 0)
                {
                    break;
                }

                held.AddRange(fresh.Select(m => (m, Decode(m))));
            }
        }
        finally
        {
            await ReleaseAsync(dlq, held.Select(h => h.Raw), CancellationToken.None).ConfigureAwait(false);
        }

        return held.Select(h => FailureDetails.Read(h.Message, queue)).ToList();
    }

    public async Task<int> RedriveAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        var dlq = await topology.FindDeadLetterQueueAsync(queue, cancellationToken).ConfigureAwait(false);
        if (dlq is null)
        {
            return 0;
        }

        var target = await topology.GetQueueAsync(queue, cancellationToken).ConfigureAwait(false);
        if (messageIds is null && options.UseMessageMoveTask)
        {
            var attributes = await sqs.GetQueueAttributesAsync(dlq.Url, ["ApproximateNumberOfMessages"], cancellationToken).ConfigureAwait(false);
            var count = int.TryParse(attributes.GetValueOrDefault("ApproximateNumberOfMessages"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;
            try
            {
                var handle = await sqs.StartMessageMoveTaskAsync(dlq.Arn, target.Arn, cancellationToken).ConfigureAwait(false);
                logger.LogInformation("Started SQS message move task {TaskHandle} from {DeadLetterQueue} to {Queue} (~{Count} messages)", handle, dlq.Name, target.Name, count);
                return count;
            }
            catch (AmazonSqsException e) when (IsUnsupported(e))
            {
                logger.LogWarning(e, "The SQS service does not support StartMessageMoveTask ({Code}: {Message}); redriving the dead letters of {DeadLetterQueue} to {Queue} with the mover instead",
                    e.Code, e.ErrorMessage, dlq.Name, target.Name);
            }
        }

        return await ProcessAsync(queue, dlq, messageIds, async (selected, ct) =>
        {
            var originals = selected.Select(s => new QueuedSend(
                FailureDetails.Read(s.Message, queue).Message.WithoutHeaders(h => h == MessageHeaders.PriorAttempts), 0)).ToList();
            await sender.SendToQueueAsync(target, originals, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether an error means the service does not have the operation at all (an emulator, a compatible
    /// service, a region or queue type without it), as opposed to failing it: then the mover does the work.</summary>
    internal static bool IsUnsupported(AmazonSqsException error) =>
        error.StatusCode == HttpStatusCode.NotImplemented
        || error.Code is "InvalidAction" or "UnsupportedOperation" or "AWS.SimpleQueueService.UnsupportedOperation"
            or "UnknownOperationException" or "UnknownOperation" or "NotImplemented";

    public Task<int> PurgeAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        return PurgeCoreAsync(queue, messageIds, cancellationToken);
    }

    private async Task<int> PurgeCoreAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken)
    {
        var dlq = await topology.FindDeadLetterQueueAsync(queue, cancellationToken).ConfigureAwait(false);
        return dlq is null ? 0 : await ProcessAsync(queue, dlq, messageIds, (_, _) => Task.CompletedTask, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Receives the dead letters batch by batch; for the selected ones runs <paramref name="beforeDelete"/> and
    /// then deletes them; makes the others visible again at the end.</summary>
    private async Task<int> ProcessAsync(
        string queue, QueueInfo dlq, IReadOnlyCollection<string>? messageIds,
        Func<List<(SqsMessage Raw, TransportMessage Message)>, CancellationToken, Task> beforeDelete, CancellationToken cancellationToken)
    {
        var wanted = messageIds is null ? null : new HashSet<string>(messageIds, StringComparer.Ordinal);
        var skipped = new List<SqsMessage>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var done = 0;
        try
        {
            while (wanted is null || wanted.Count > 0)
            {
                var batch = await sqs.ReceiveMessageAsync(dlq.Url, 10, WaitSeconds, HoldSeconds, cancellationToken).ConfigureAwait(false);
                var fresh = batch.Where(m => seen.Add(m.MessageId)).ToList();
                if (fresh.Count == 0)
                {
                    skipped.AddRange(batch);
                    break;
                }

                var selected = new List<(SqsMessage Raw, TransportMessage Message)>();
                foreach (var raw in fresh)
                {
                    var message = Decode(raw);
                    if (wanted is null || (message.MessageId is { } id && wanted.Remove(id)))
                    {
                        selected.Add((raw, message));
                    }
                    else
                    {
                        skipped.Add(raw);
                    }
                }

                if (selected.Count == 0)
                {
                    continue;
                }

                try
                {
                    await beforeDelete(selected, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    skipped.AddRange(selected.Select(s => s.Raw));
                    throw;
                }

                await Task.WhenAll(selected.Select(s => leases.DeleteAsync(dlq.Url, Operation(dlq, s.Raw, 0), cancellationToken))).ConfigureAwait(false);
                done += selected.Count;
            }
        }
        finally
        {
            await ReleaseAsync(dlq, skipped, CancellationToken.None).ConfigureAwait(false);
        }

        logger.LogInformation("Processed {Count} dead letters of {Queue}", done, queue);
        return done;
    }

    private async Task ReleaseAsync(QueueInfo dlq, IEnumerable<SqsMessage> messages, CancellationToken cancellationToken)
    {
        var tasks = messages.Select(m => leases.ChangeVisibilityAsync(dlq.Url, Operation(dlq, m, 0), cancellationToken)).ToList();
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (Exception e) when (e is LeaseLostException or AmazonSqsException)
        {
            // They become visible again when the hold expires anyway.
            logger.LogDebug(e, "Could not make dead letters of {DeadLetterQueue} visible again early", dlq.Name);
        }
    }

    private static ReceiptOperation Operation(QueueInfo dlq, SqsMessage message, int visibility) =>
        new(message.ReceiptHandle, visibility, message.MessageId, dlq.Name);

    private static TransportMessage Decode(SqsMessage message) =>
        WireFormat.Decode(message.Body, message.MessageAttributes, message.MessageId);
}

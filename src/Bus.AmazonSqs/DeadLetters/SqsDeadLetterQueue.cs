using System.Globalization;
using Amazon.SQS;
using Amazon.SQS.Model;
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
    IAmazonSQS sqs, SqsTopology topology, MessageSender sender, LeaseOperations leases, SqsTransportOptions options, int maxReceiveCount, ILogger logger) : IDeadLetterQueue
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

        var held = new List<(Message Raw, TransportMessage Message)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            while (held.Count < maxCount)
            {
                var batch = await sqs.ReceiveAsync(dlq.Url, Math.Min(10, maxCount - held.Count), WaitSeconds, HoldSeconds, cancellationToken).ConfigureAwait(false);
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

        return held.Select(h => Explain(h.Message, h.Raw, queue)).ToList();
    }

    /// <summary>SQS can only receive: the dead-letter queue is read whole (up to <see cref="IDeadLetterQueue.ScanLimit"/>,
    /// each held for a moment and made visible again), sorted by failure time and id so that pages are stable, filtered,
    /// and paged by position.</summary>
    public async Task<DeadLetterPage> ListAsync(string queue, DeadLetterQuery query, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        var all = await PeekAsync(queue, IDeadLetterQueue.ScanLimit, cancellationToken).ConfigureAwait(false);
        return query.PageByOffset(all.OrderBy(d => d.Failure.FailedAt).ThenBy(d => d.Message.MessageId, StringComparer.Ordinal));
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
            var attributes = await topology.GetAttributesAsync(dlq.Url, ["ApproximateNumberOfMessages"], cancellationToken).ConfigureAwait(false);
            var count = int.TryParse(attributes.GetValueOrDefault("ApproximateNumberOfMessages"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;
            try
            {
                var handle = (await sqs.StartMessageMoveTaskAsync(new StartMessageMoveTaskRequest { SourceArn = dlq.Arn, DestinationArn = target.Arn }, cancellationToken).ConfigureAwait(false)).TaskHandle;
                logger.LogInformation("Started SQS message move task {TaskHandle} from {DeadLetterQueue} to {Queue} (~{Count} messages)", handle, dlq.Name, target.Name, count);
                return count;
            }
            catch (AmazonSQSException e) when (SqsErrors.IsUnsupported(e))
            {
                logger.LogWarning(e, "The SQS service does not support StartMessageMoveTask ({Code}: {Message}); redriving the dead letters of {DeadLetterQueue} to {Queue} with the mover instead",
                    e.ErrorCode, e.Message, dlq.Name, target.Name);
            }
        }

        return await ProcessAsync(queue, dlq, messageIds, async (selected, ct) =>
        {
            var originals = selected.Select(s => new QueuedSend(
                FailureDetails.Read(s.Message, queue).Message.WithoutHeaders(h => h == MessageHeaders.PriorAttempts), 0)).ToList();
            foreach (var byQueue in originals.GroupBy(o => sender.IsPriority(o.Message)))
            {
                var to = byQueue.Key ? await topology.GetPriorityQueueAsync(queue, ct).ConfigureAwait(false) : target;
                await sender.SendToQueueAsync(to, byQueue.ToList(), ct).ConfigureAwait(false);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

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
        Func<List<(Message Raw, TransportMessage Message)>, CancellationToken, Task> beforeDelete, CancellationToken cancellationToken)
    {
        var wanted = messageIds is null ? null : new HashSet<string>(messageIds, StringComparer.Ordinal);
        var skipped = new List<Message>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var done = 0;
        try
        {
            while (wanted is null || wanted.Count > 0)
            {
                var batch = await sqs.ReceiveAsync(dlq.Url, 10, WaitSeconds, HoldSeconds, cancellationToken).ConfigureAwait(false);
                var fresh = batch.Where(m => seen.Add(m.MessageId)).ToList();
                if (fresh.Count == 0)
                {
                    skipped.AddRange(batch);
                    break;
                }

                var selected = new List<(Message Raw, TransportMessage Message)>();
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

    private async Task ReleaseAsync(QueueInfo dlq, IEnumerable<Message> messages, CancellationToken cancellationToken)
    {
        var tasks = messages.Select(m => leases.ChangeVisibilityAsync(dlq.Url, Operation(dlq, m, 0), cancellationToken)).ToList();
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (Exception e) when (e is LeaseLostException or AmazonSqsException or AmazonSQSException)
        {
            // They become visible again when the hold expires anyway.
            logger.LogDebug(e, "Could not make dead letters of {DeadLetterQueue} visible again early", dlq.Name);
        }
    }

    private static ReceiptOperation Operation(QueueInfo dlq, Message message, int visibility) =>
        new(message.ReceiptHandle, visibility, message.MessageId, dlq.Name);

    /// <summary>A dead letter without failure headers was moved by the queue's RedrivePolicy, not by the bus: say so,
    /// with the receives SQS counted (less the one of this look).</summary>
    private DeadLetter Explain(TransportMessage deadLettered, Message raw, string queue)
    {
        var letter = FailureDetails.Read(deadLettered, queue);
        if (deadLettered.Headers.ContainsKey(MessageHeaders.FailureReason))
        {
            return letter;
        }

        var counted = raw.Attributes?.GetValueOrDefault("ApproximateReceiveCount") is { } c
            && int.TryParse(c, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? Math.Max(n - 1, 0) : 0;
        var receives = Math.Max(counted, maxReceiveCount);
        return letter with
        {
            Failure = letter.Failure with
            {
                Reason = $"Moved by SQS after {receives} receives (the queue's MaxReceiveCount is {maxReceiveCount}) without being settled: " +
                         "the workers that held it crashed or stalled (each receive of a killed worker counts, prefetched messages included).",
                Attempts = receives,
            },
        };
    }

    private static TransportMessage Decode(Message message) =>
        WireFormat.Decode(message.Body, message.MessageAttributes, message.MessageId);
}

using System.Globalization;
using Amazon.SQS;
using Amazon.SQS.Model;
using Bus.AmazonSqs.Messages;
using Bus.AmazonSqs.Sns;
using Bus.AmazonSqs.Sqs;
using Bus.AmazonSqs.Topology;
using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.AmazonSqs.Sending;

/// <summary>One message bound for a queue, with its delay.</summary>
internal sealed record QueuedSend(TransportMessage Message, int DelaySeconds);

/// <summary>
/// Sends commands to queues with SendMessageBatch (up to 10 entries and the batch size limit per call) and events to
/// topics with Publish/PublishBatch. Every message is size-checked before anything is sent; entries a batch call
/// rejects surface as one <see cref="AmazonSqsException"/> naming their message ids.
/// </summary>
internal sealed class MessageSender(
    IAmazonSQS sqs, ISnsClient sns, SqsTopology topology, SqsTransportOptions options, TimeProvider time, ILogger logger)
{
    public const long SnsMaxMessageSize = 262_144;
    private const int MaxBatch = 10;
    private const long LargestBatchPayload = 1_048_576;

    public async Task SendAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var queueSends = new List<(QueueInfo Queue, List<QueuedSend> Sends)>();
        var topicSends = new List<(string Name, string Arn, List<TransportMessage> Messages)>();
        foreach (var group in messages.GroupBy(m => m.Destination))
        {
            if (group.Key.Kind == DestinationKind.Queue)
            {
                // Messages with a priority go to the queue's priority queue (SqsTransportOptions.PriorityQueue).
                foreach (var byQueue in group.GroupBy(m => IsPriority(m.Message)))
                {
                    var queue = byQueue.Key
                        ? await topology.GetPriorityQueueAsync(group.Key.Name, cancellationToken).ConfigureAwait(false)
                        : await topology.GetQueueAsync(group.Key.Name, cancellationToken).ConfigureAwait(false);
                    queueSends.Add((queue, byQueue.Select(m => new QueuedSend(m.Message, DelaySeconds(m.VisibleAt, now))).ToList()));
                }

                continue;
            }

            var arn = await topology.GetTopicArnAsync(group.Key.Name, cancellationToken).ConfigureAwait(false);
            var immediate = group.Where(m => DelaySeconds(m.VisibleAt, now) == 0 && !IsPriority(m.Message)).Select(m => m.Message).ToList();
            if (immediate.Count > 0)
            {
                topicSends.Add((topology.Names.Topic(group.Key.Name), arn, immediate));
            }

            var direct = group.Where(m => DelaySeconds(m.VisibleAt, now) > 0 || IsPriority(m.Message)).ToList();
            if (direct.Count > 0)
            {
                // SNS cannot delay, and delivers to the subscribed (normal) queues only: deliver straight to each subscribed
                // queue with DelaySeconds, or to its priority queue.
                foreach (var subscription in await sns.ListSubscriptionsAsync(arn, cancellationToken).ConfigureAwait(false))
                {
                    var name = subscription.Protocol == "sqs" ? subscription.Endpoint[(subscription.Endpoint.LastIndexOf(':') + 1)..] : null;
                    if (name is null)
                    {
                        continue;
                    }

                    foreach (var byQueue in direct.GroupBy(m => IsPriority(m.Message)))
                    {
                        var queueName = byQueue.Key ? EntityNames.PriorityQueueOf(name) : name;
                        if (await topology.FindByNameAsync(queueName, cancellationToken).ConfigureAwait(false) is { } queue)
                        {
                            queueSends.Add((queue, byQueue.Select(m => new QueuedSend(m.Message, DelaySeconds(m.VisibleAt, now))).ToList()));
                        }
                        else if (byQueue.Key)
                        {
                            throw new InvalidOperationException(
                                $"SQS queue '{name}' subscribes to '{group.Key.Name}' but has no priority queue '{queueName}' for events with a priority: " +
                                "start its endpoint with SqsTransportOptions.PriorityQueue on, or publish without a priority.");
                        }
                    }
                }
            }
        }

        // Check every message before sending any.
        var queueBatches = queueSends.Select(q => (q.Queue, Prepared: PrepareForQueue(q.Queue, q.Sends))).ToList();
        var topicBatches = topicSends.Select(t => (t.Name, t.Arn, Prepared: PrepareForTopic(t.Name, t.Messages))).ToList();

        var tasks = new List<Task<List<string>>>();
        foreach (var (queue, prepared) in queueBatches)
        {
            foreach (var chunk in Chunk(prepared, BatchLimit(queue)))
            {
                tasks.Add(SendChunkAsync(queue, chunk, cancellationToken));
            }
        }

        foreach (var (_, arn, prepared) in topicBatches)
        {
            foreach (var chunk in Chunk(prepared, SnsMaxMessageSize))
            {
                tasks.Add(PublishChunkAsync(arn, chunk, cancellationToken));
            }
        }

        await ThrowIfAnyFailedAsync(tasks).ConfigureAwait(false);
    }

    /// <summary>Whether a message goes to a priority queue: it has a priority and priority queues are on.</summary>
    public bool IsPriority(TransportMessage message) => options.PriorityQueue && message.Priority > 0;

    /// <summary>Sends messages to one queue (releases, dead letters, redrives).</summary>
    public async Task SendToQueueAsync(QueueInfo queue, IReadOnlyList<QueuedSend> sends, CancellationToken cancellationToken)
    {
        var prepared = PrepareForQueue(queue, sends);
        var tasks = Chunk(prepared, BatchLimit(queue)).Select(chunk => SendChunkAsync(queue, chunk, cancellationToken)).ToList();
        await ThrowIfAnyFailedAsync(tasks).ConfigureAwait(false);
    }

    /// <summary>The size SQS counts for a message: its wire encoding, or the bus's own measure when that is larger.</summary>
    public static long SizeOnWire(TransportMessage message) =>
        Math.Max(MessageSizeLimit.SizeOf(message), WireFormat.Encode(message).Size);

    /// <summary>The limit a queue's messages are held to: its MaximumMessageSize and the configured maximum.</summary>
    public long LimitOf(QueueInfo queue) => Math.Min(queue.MaxMessageSize, options.MaxMessageSize);

    private static async Task ThrowIfAnyFailedAsync(List<Task<List<string>>> tasks)
    {
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch
        {
            // inspected below, per task
        }

        var failures = new List<string>();
        var failedIds = new List<string>();
        Exception? first = null;
        foreach (var task in tasks)
        {
            if (task.IsFaulted)
            {
                first ??= task.Exception!.InnerException;
                if (task.Exception!.InnerException is ChunkFailedException chunk)
                {
                    failedIds.AddRange(chunk.MessageIds);
                    failures.Add(chunk.Message);
                }
            }
            else if (task.Result.Count > 0)
            {
                failures.AddRange(task.Result);
                failedIds.AddRange(task.Result.Select(r => r[..r.IndexOf(' ', StringComparison.Ordinal)]));
            }
        }

        if (failures.Count == 0 && first is null)
        {
            return;
        }

        if (first is not null and not ChunkFailedException && failures.Count == 0)
        {
            throw first;
        }

        throw new AmazonSqsException("sqs", "SendMessageBatch", "BatchEntriesFailed",
            $"{failedIds.Count} message(s) were not accepted (the others were): {string.Join("; ", failures)}", null,
            first is ChunkFailedException c ? c.InnerException : first, failedIds);
    }

    private List<Prepared> PrepareForQueue(QueueInfo queue, IReadOnlyList<QueuedSend> sends)
    {
        var limit = LimitOf(queue);
        var label = $"Amazon SQS queue '{queue.Name}' (MaximumMessageSize)";
        return sends.Select(s => Prepare(s.Message, s.DelaySeconds, limit, label)).ToList();
    }

    private List<Prepared> PrepareForTopic(string topic, IReadOnlyList<TransportMessage> messages)
    {
        var limit = Math.Min(SnsMaxMessageSize, options.MaxMessageSize);
        var label = $"Amazon SNS topic '{topic}'";
        return messages.Select(m => Prepare(m, 0, limit, label)).ToList();
    }

    private static Prepared Prepare(TransportMessage message, int delaySeconds, long limit, string label)
    {
        MessageSizeLimit.Check(message, limit, label);
        var wire = WireFormat.Encode(message);
        var size = wire.Size;
        if (size > limit)
        {
            throw new MessageTooLargeException(message.MessageId, size, limit, label + " (as encoded for the wire)");
        }

        return new Prepared(message.MessageId ?? "(no id)", wire, delaySeconds, size);
    }

    private static long BatchLimit(QueueInfo queue) => Math.Clamp(queue.MaxMessageSize, 262_144, LargestBatchPayload);

    private static IEnumerable<List<Prepared>> Chunk(List<Prepared> prepared, long batchLimit)
    {
        var chunk = new List<Prepared>();
        long bytes = 0;
        foreach (var item in prepared)
        {
            if (chunk.Count == MaxBatch || (chunk.Count > 0 && bytes + item.Size > batchLimit))
            {
                yield return chunk;
                chunk = [];
                bytes = 0;
            }

            chunk.Add(item);
            bytes += item.Size;
        }

        if (chunk.Count > 0)
        {
            yield return chunk;
        }
    }

    /// <summary>Sends one chunk; returns descriptions ("id (Code: message)") of the entries that failed for good.</summary>
    private async Task<List<string>> SendChunkAsync(QueueInfo queue, List<Prepared> chunk, CancellationToken cancellationToken)
    {
        var pending = chunk.Select((p, i) => (Id: i.ToString(CultureInfo.InvariantCulture), Item: p)).ToList();
        for (var attempt = 0; ; attempt++)
        {
            var request = new SendMessageBatchRequest
            {
                QueueUrl = queue.Url,
                Entries = pending.Select(p => new SendMessageBatchRequestEntry
                {
                    Id = p.Id,
                    MessageBody = p.Item.Wire.Body,
                    DelaySeconds = p.Item.DelaySeconds > 0 ? p.Item.DelaySeconds : null,
                    MessageAttributes = p.Item.Wire.Attributes.Count == 0
                        ? null
                        : p.Item.Wire.Attributes.ToDictionary(a => a.Key, a => new MessageAttributeValue { DataType = WireFormat.StringType, StringValue = a.Value }, StringComparer.Ordinal),
                }).ToList(),
            };
            SendMessageBatchResponse response;
            try
            {
                response = await sqs.SendMessageBatchAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (SqsErrors.IsQueueMissing(e))
                {
                    topology.Forget(queue.Name);
                }

                throw new ChunkFailedException(pending.Select(p => p.Item.MessageId).ToList(), $"{string.Join(", ", pending.Select(p => p.Item.MessageId))} ({e.Message})", e);
            }

            var failed = response.Failed ?? [];
            if (failed.Count == 0)
            {
                return [];
            }

            var retryable = failed.Where(f => f.SenderFault != true).Select(f => f.Id).ToHashSet(StringComparer.Ordinal);
            if (retryable.Count == failed.Count && attempt < (options.MaxErrorRetry ?? 2))
            {
                logger.LogDebug("SendMessageBatch to {Queue}: {Count} entries failed on the service side; retrying them", queue.Name, failed.Count);
                pending = pending.Where(p => retryable.Contains(p.Id)).ToList();
                await Task.Delay(options.RetryBaseDelay * (1 << Math.Min(attempt, 6)), time, cancellationToken).ConfigureAwait(false);
                continue;
            }

            var byId = pending.ToDictionary(p => p.Id, p => p.Item, StringComparer.Ordinal);
            return failed.Select(f => $"{(f.Id is not null && byId.TryGetValue(f.Id, out var p) ? p.MessageId : f.Id)} ({f.Code}: {f.Message})").ToList();
        }
    }

    private async Task<List<string>> PublishChunkAsync(string topicArn, List<Prepared> chunk, CancellationToken cancellationToken)
    {
        try
        {
            if (chunk.Count == 1)
            {
                await sns.PublishAsync(topicArn, new SnsPublishEntry("0", chunk[0].Wire.Body, chunk[0].Wire.Attributes), cancellationToken).ConfigureAwait(false);
                return [];
            }

            var entries = chunk.Select((p, i) => new SnsPublishEntry(i.ToString(CultureInfo.InvariantCulture), p.Wire.Body, p.Wire.Attributes)).ToList();
            var failed = await sns.PublishBatchAsync(topicArn, entries, cancellationToken).ConfigureAwait(false);
            return failed.Select(f => $"{(int.TryParse(f.Id, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) && i < chunk.Count ? chunk[i].MessageId : f.Id)} ({f.Code}: {f.Message})").ToList();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new ChunkFailedException(chunk.Select(p => p.MessageId).ToList(), $"{string.Join(", ", chunk.Select(p => p.MessageId))} ({e.Message})", e);
        }
    }

    private static int DelaySeconds(DateTimeOffset? visibleAt, DateTimeOffset now)
    {
        if (visibleAt is not { } at || at <= now)
        {
            return 0;
        }

        return (int)Math.Clamp(Math.Ceiling((at - now).TotalSeconds), 0, 900);
    }

    private sealed record Prepared(string MessageId, WireMessage Wire, int DelaySeconds, long Size);

    private sealed class ChunkFailedException(IReadOnlyList<string> messageIds, string message, Exception inner) : Exception(message, inner)
    {
        public IReadOnlyList<string> MessageIds { get; } = messageIds;
    }
}

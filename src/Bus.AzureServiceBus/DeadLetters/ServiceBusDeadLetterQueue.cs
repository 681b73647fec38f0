using System.Globalization;
using Azure.Messaging.ServiceBus;
using Bus.AzureServiceBus.Connection;
using Bus.AzureServiceBus.Messages;
using Bus.AzureServiceBus.Topology;
using Bus.Transports;

namespace Bus.AzureServiceBus.DeadLetters;

/// <summary>
/// The dead letters of an endpoint: its queue's <c>$DeadLetterQueue</c> sub-queue, holding what the bus dead-lettered
/// (with <c>bus-failure-*</c> properties) and what Service Bus moved itself (MaxDeliveryCountExceeded, expiry). Peek
/// browses without locking; redrive and purge lock, settle what they chose and abandon the rest. A redriven copy's
/// broker MessageId is derived from the dead letter, so a redrive repeated after a crash between sending the copy and
/// completing the dead letter is dropped as a duplicate by an entity with duplicate detection.
/// </summary>
/// <remarks>With priority queues (<see cref="ServiceBusTransportOptions.PriorityQueue"/>) an endpoint's dead letters are
/// in two sub-queues, its queue's and its priority queue's: peek and list read the queue's first, then the priority
/// queue's; redrive moves each back to the queue it died in; purge empties both.</remarks>
internal sealed class ServiceBusDeadLetterQueue(EntityClients clients, EntityNames names, TimeSpan receiveWait, bool priorityQueues = false) : IDeadLetterQueue
{
    /// <summary>The reason given to dead letters that carry none.</summary>
    public const string DefaultNativeReason = "MaxDeliveryCountExceeded";

    private const int PageSize = 100;

    public async Task<IReadOnlyList<DeadLetter>> PeekAsync(string queue, int maxCount, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        var result = new List<DeadLetter>();
        foreach (var entity in Entities(queue))
        {
            var receiver = clients.DeadLetterReceiver(entity);
            long from = 0;
            while (result.Count < maxCount)
            {
                var page = await PeekPageAsync(receiver, Math.Min(PageSize, maxCount - result.Count), from, cancellationToken).ConfigureAwait(false);
                if (page.Count == 0)
                {
                    break;
                }

                result.AddRange(page.Select(m => ToDeadLetter(m, queue)));
                from = page[^1].SequenceNumber + 1;
            }
        }

        return result;
    }

    /// <summary>Browses the dead-letter sub-queue by sequence number (no lock, no delivery count), filtering as it goes;
    /// the continuation token is the sequence number to browse on from, so pages stay stable while dead letters come and go.</summary>
    public async Task<DeadLetterPage> ListAsync(string queue, DeadLetterQuery query, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        // "s:{sequence}" browses the queue's dead letters on from a sequence number, "p:{sequence}" the priority queue's.
        var token = query.ContinuationToken;
        var inPriority = token is not null && token.StartsWith("p:", StringComparison.Ordinal) && priorityQueues;
        var from = token is null ? 0
            : (token.StartsWith("s:", StringComparison.Ordinal) || inPriority)
              && long.TryParse(token.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence) ? sequence
            : throw new ArgumentException(
                $"The continuation token '{token}' was not made by the Service Bus dead-letter queue; pass the token of its previous page, or none for the first page.",
                nameof(query));
        var receiver = clients.DeadLetterReceiver(inPriority ? names.PriorityQueue(queue) : names.Queue(queue));
        var items = new List<DeadLetter>();
        while (true)
        {
            var batch = await PeekPageAsync(receiver, PageSize, from, cancellationToken).ConfigureAwait(false);
            if (batch.Count == 0)
            {
                if (inPriority || !priorityQueues)
                {
                    return new DeadLetterPage(items, null);
                }

                // The queue's dead letters are done: go on with the priority queue's.
                inPriority = true;
                from = 0;
                receiver = clients.DeadLetterReceiver(names.PriorityQueue(queue));
                continue;
            }

            foreach (var received in batch)
            {
                if (items.Count == query.PageSize)
                {
                    return new DeadLetterPage(items, string.Create(CultureInfo.InvariantCulture, $"{(inPriority ? 'p' : 's')}:{received.SequenceNumber}"));
                }

                from = received.SequenceNumber + 1;
                var letter = ToDeadLetter(received, queue);
                if (query.Matches(letter))
                {
                    items.Add(letter);
                }
            }
        }
    }

    public Task<int> RedriveAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        var moved = new HashSet<string>(StringComparer.Ordinal);
        return ScanAsync(queue, messageIds, async (entity, receiver, received, letter) =>
        {
            var sender = clients.Sender(entity); // back to the queue it died in (a priority queue's dead letters to it)
            // A message this call already moved is left: it failed again at once and was dead-lettered anew while the scan
            // went on (moving it again would never end).
            if (letter.Message.MessageId is { } id && !moved.Add(id))
            {
                return false;
            }

            var seed = string.Create(CultureInfo.InvariantCulture, $"redrive/{received.MessageId}/{received.SequenceNumber}/{received.EnqueuedTime.UtcTicks}");
            await sender.SendMessageAsync(MessageMapping.CopyWithStableId(letter.Message, seed), cancellationToken).ConfigureAwait(false);
            await receiver.CompleteMessageAsync(received, CancellationToken.None).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    public Task<int> PurgeAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        return ScanAsync(queue, messageIds, async (_, receiver, received, _) =>
        {
            await receiver.CompleteMessageAsync(received, cancellationToken).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    /// <summary>Counts the dead letters (peeking), then locks them in batches until that many were seen, and hands each
    /// chosen one to <paramref name="settle"/>; those not chosen (or not settled) are abandoned at the end. Stops early
    /// when a receive comes back empty or a message comes round again; dead letters that arrive meanwhile wait for the
    /// next call.</summary>
    private async Task<int> ScanAsync(
        string queue,
        IReadOnlyCollection<string>? ids,
        Func<string, ServiceBusReceiver, ServiceBusReceivedMessage, DeadLetter, Task<bool>> settle,
        CancellationToken cancellationToken)
    {
        var settled = 0;
        foreach (var entity in Entities(queue))
        {
            settled += await ScanAsync(queue, entity, ids, settle, cancellationToken).ConfigureAwait(false);
        }

        return settled;
    }

    /// <summary>The entities whose dead-letter sub-queues hold the endpoint's dead letters: its queue, then its priority queue.</summary>
    private IEnumerable<string> Entities(string queue) =>
        priorityQueues ? [names.Queue(queue), names.PriorityQueue(queue)] : [names.Queue(queue)];

    private async Task<int> ScanAsync(
        string queue,
        string entity,
        IReadOnlyCollection<string>? ids,
        Func<string, ServiceBusReceiver, ServiceBusReceivedMessage, DeadLetter, Task<bool>> settle,
        CancellationToken cancellationToken)
    {
        var receiver = clients.DeadLetterReceiver(entity);
        var expected = await CountAsync(receiver, cancellationToken).ConfigureAwait(false);
        var held = new List<ServiceBusReceivedMessage>();
        var seen = new HashSet<long>();
        var settled = 0;
        try
        {
            while (seen.Count < expected)
            {
                var batch = await receiver.ReceiveMessagesAsync(Math.Min(PageSize, expected - seen.Count), receiveWait, cancellationToken).ConfigureAwait(false);
                if (batch.Count == 0)
                {
                    break;
                }

                var again = false;
                foreach (var received in batch)
                {
                    if (!seen.Add(received.SequenceNumber))
                    {
                        again = true;
                        held.Add(received);
                        continue;
                    }

                    var letter = ToDeadLetter(received, queue);
                    var chosen = ids is null || (letter.Message.MessageId is { } id && ids.Contains(id));
                    if (chosen && await settle(entity, receiver, received, letter).ConfigureAwait(false))
                    {
                        settled++;
                    }
                    else
                    {
                        held.Add(received);
                    }
                }

                if (again)
                {
                    break;
                }
            }
        }
        finally
        {
            foreach (var received in held)
            {
                try
                {
                    await receiver.AbandonMessageAsync(received, null, CancellationToken.None).ConfigureAwait(false);
                }
                catch (ServiceBusException e) when (e.Reason == ServiceBusFailureReason.MessageLockLost)
                {
                    // The lock ran out already: the message is available again either way.
                }
            }
        }

        return settled;
    }

    private static async Task<int> CountAsync(ServiceBusReceiver receiver, CancellationToken cancellationToken)
    {
        var count = 0;
        long from = 0;
        while (true)
        {
            var page = await PeekPageAsync(receiver, PageSize, from, cancellationToken).ConfigureAwait(false);
            if (page.Count == 0)
            {
                return count;
            }

            count += page.Count;
            from = page[^1].SequenceNumber + 1;
        }
    }

    private static async Task<IReadOnlyList<ServiceBusReceivedMessage>> PeekPageAsync(
        ServiceBusReceiver receiver, int count, long from, CancellationToken cancellationToken)
    {
        try
        {
            return await receiver.PeekMessagesAsync(count, from, cancellationToken).ConfigureAwait(false);
        }
        catch (ServiceBusException e) when (e.Reason == ServiceBusFailureReason.MessagingEntityNotFound)
        {
            return []; // never provisioned: no dead letters
        }
    }

    /// <summary>The original message and why it died: the bus's failure properties when it dead-lettered the message,
    /// else the reason and description Service Bus gave.</summary>
    private static DeadLetter ToDeadLetter(ServiceBusReceivedMessage received, string queue)
    {
        var (message, prior) = MessageMapping.FromServiceBus(received);
        if (message.Headers.Keys.Any(MessageHeaders.IsFailureHeader))
        {
            // The bus dead-lettered it: its reason is the native DeadLetterReason (older dead letters also carry it as a
            // property).
            if (!message.Headers.ContainsKey(MessageHeaders.FailureReason) && !string.IsNullOrWhiteSpace(received.DeadLetterReason))
            {
                message = message.WithHeaders([new(MessageHeaders.FailureReason, received.DeadLetterReason)]);
            }

            return FailureDetails.Read(message, queue);
        }

        var failure = new FailureDetails(
            string.IsNullOrWhiteSpace(received.DeadLetterReason) ? DefaultNativeReason : received.DeadLetterReason,
            null,
            received.DeadLetterErrorDescription,
            null,
            prior + Math.Max(0, received.DeliveryCount),
            queue,
            received.EnqueuedTime);
        return new DeadLetter(message.WithoutHeaders(MessageHeaders.IsFailureHeader), failure);
    }
}

using Azure.Messaging.ServiceBus;
using Azure.Messaging.ServiceBus.Administration;
using Bus.AzureServiceBus.Connection;
using Bus.AzureServiceBus.Topology;
using Bus.Transports;

namespace Bus.AzureServiceBus.Statistics;

/// <summary>
/// Queue counts from the queue's runtime properties (<see cref="ServiceBusAdministrationClient.GetQueueRuntimePropertiesAsync"/>):
/// ActiveMessageCount (ready; Service Bus counts locked messages as active, so <see cref="QueueStatistics.InFlight"/> is
/// null), ScheduledMessageCount (delayed) and DeadLetterMessageCount. The age of the oldest message is read by peeking
/// the head of the queue (no lock, no delivery count): the first active message's enqueued time.
/// </summary>
internal sealed class ServiceBusQueueStatistics(
    ServiceBusAdministrationClient admin, EntityClients clients, EntityNames names, string prefix, TimeProvider time, bool priorityQueues = false) : IQueueStatistics
{
    private const int HeadToPeek = 10;

    public async Task<IReadOnlyList<string>> ListQueuesAsync(CancellationToken cancellationToken)
    {
        var queues = new List<string>();
        await foreach (var queue in admin.GetQueuesAsync(cancellationToken).ConfigureAwait(false))
        {
            if (queue.Name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                queues.Add(queue.Name[prefix.Length..]);
            }
        }

        // A priority queue is counted with its endpoint's queue, not listed of its own.
        var all = queues.ToHashSet(StringComparer.Ordinal);
        queues.RemoveAll(q => q.EndsWith(EntityNames.PrioritySuffix, StringComparison.Ordinal) && all.Contains(q[..^EntityNames.PrioritySuffix.Length]));
        queues.Sort(StringComparer.Ordinal);
        return queues;
    }

    public async Task<QueueStatistics> GetAsync(string queue, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        var counts = await GetEntityAsync(queue, names.Queue(queue), cancellationToken).ConfigureAwait(false);
        if (!priorityQueues)
        {
            return counts;
        }

        // The priority queue's counts are added to the queue's; the oldest message is the older of the two heads.
        var urgent = await GetEntityAsync(queue, names.PriorityQueue(queue), cancellationToken).ConfigureAwait(false);
        return counts with
        {
            Ready = counts.Ready + urgent.Ready,
            Delayed = counts.Delayed + urgent.Delayed,
            DeadLettered = counts.DeadLettered + urgent.DeadLettered,
            OldestMessageAge = counts.OldestMessageAge is { } a && urgent.OldestMessageAge is { } b ? (a > b ? a : b) : counts.OldestMessageAge ?? urgent.OldestMessageAge,
        };
    }

    private async Task<QueueStatistics> GetEntityAsync(string queue, string entity, CancellationToken cancellationToken)
    {
        QueueRuntimeProperties properties;
        try
        {
            properties = (await admin.GetQueueRuntimePropertiesAsync(entity, cancellationToken).ConfigureAwait(false)).Value;
        }
        catch (ServiceBusException e) when (e.Reason == ServiceBusFailureReason.MessagingEntityNotFound)
        {
            return new QueueStatistics(queue, 0, null, 0, 0, null, time.GetUtcNow());
        }

        TimeSpan? age = null;
        if (properties.ActiveMessageCount > 0)
        {
            var head = await clients.Receiver(entity).PeekMessagesAsync(HeadToPeek, 0, cancellationToken).ConfigureAwait(false);
            if (head.FirstOrDefault(m => m.State == ServiceBusMessageState.Active) is { } oldest)
            {
                var now = time.GetUtcNow();
                age = now > oldest.EnqueuedTime ? now - oldest.EnqueuedTime : TimeSpan.Zero;
            }
        }

        return new QueueStatistics(
            queue, properties.ActiveMessageCount, null, properties.ScheduledMessageCount, properties.DeadLetterMessageCount, age, time.GetUtcNow());
    }
}

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
    ServiceBusAdministrationClient admin, EntityClients clients, EntityNames names, string prefix, TimeProvider time) : IQueueStatistics
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

        queues.Sort(StringComparer.Ordinal);
        return queues;
    }

    public async Task<QueueStatistics> GetAsync(string queue, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        var entity = names.Queue(queue);
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

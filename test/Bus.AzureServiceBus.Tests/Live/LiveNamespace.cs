using Azure.Messaging.ServiceBus.Administration;

namespace Bus.AzureServiceBus.Tests.Live;

/// <summary>A unique entity prefix in the live namespace, and the deletion of every entity under it.</summary>
internal sealed class LiveNamespace
{
    public string Prefix { get; } = $"bus-live-{Guid.NewGuid():N}"[..21] + "-";

    public static string ConnectionString => LiveServiceBusFactAttribute.ConnectionString
        ?? throw new InvalidOperationException($"{LiveServiceBusFactAttribute.Variable} is not set.");

    /// <summary>Deletes the queues and topics (with their subscriptions) this run created.</summary>
    public async Task DeleteEntitiesAsync()
    {
        if (string.IsNullOrWhiteSpace(LiveServiceBusFactAttribute.ConnectionString))
        {
            return;
        }

        var admin = new ServiceBusAdministrationClient(ConnectionString);
        var topics = new List<string>();
        await foreach (var topic in admin.GetTopicsAsync())
        {
            if (topic.Name.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
            {
                topics.Add(topic.Name);
            }
        }

        foreach (var topic in topics)
        {
            await admin.DeleteTopicAsync(topic);
        }

        var queues = new List<string>();
        await foreach (var queue in admin.GetQueuesAsync())
        {
            if (queue.Name.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
            {
                queues.Add(queue.Name);
            }
        }

        foreach (var queue in queues)
        {
            await admin.DeleteQueueAsync(queue);
        }
    }
}

using System.Collections.Concurrent;
using Azure;
using Azure.Messaging.ServiceBus;
using Azure.Messaging.ServiceBus.Administration;

namespace Bus.AzureServiceBus.Topology;

/// <summary>
/// The largest message each queue or topic accepts, as the entity reports it (256 KB on Standard, up to 100 MB on
/// Premium): noted when provisioning reads the entity, read once on first send otherwise, and the configured size when
/// the entity cannot be read (no Manage rights).
/// </summary>
internal sealed class EntitySizeLimits(ServiceBusAdministrationClient admin, long fallbackBytes)
{
    private readonly ConcurrentDictionary<string, long> _limits = new(StringComparer.Ordinal);

    /// <summary>Notes what an entity reported.</summary>
    public void Note(string entity, long? maxMessageSizeInKilobytes) =>
        _limits[entity] = maxMessageSizeInKilobytes is > 0 and { } kilobytes ? kilobytes * 1024 : fallbackBytes;

    /// <summary>The limit of a queue or topic, in bytes.</summary>
    public async ValueTask<long> LimitAsync(string entity, bool topic, CancellationToken cancellationToken)
    {
        if (_limits.TryGetValue(entity, out var limit))
        {
            return limit;
        }

        try
        {
            long? kilobytes = topic
                ? (await admin.GetTopicAsync(entity, cancellationToken).ConfigureAwait(false)).Value.MaxMessageSizeInKilobytes
                : (await admin.GetQueueAsync(entity, cancellationToken).ConfigureAwait(false)).Value.MaxMessageSizeInKilobytes;
            Note(entity, kilobytes);
        }
        catch (Exception e) when (e is ServiceBusException or RequestFailedException or UnauthorizedAccessException)
        {
            // The send itself will say what is wrong with the entity; the configured size stands in meanwhile.
            Note(entity, null);
        }

        return _limits[entity];
    }
}

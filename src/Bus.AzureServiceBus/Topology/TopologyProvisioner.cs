using Bus.AzureServiceBus.Management;
using Bus.AzureServiceBus.Rest;
using Bus.Transports;

namespace Bus.AzureServiceBus.Topology;

/// <summary>Creates (or verifies) an endpoint's queue, its error queue, the topics it publishes to, and a subscription
/// per subscribed topic that forwards into the endpoint's queue.</summary>
internal sealed class TopologyProvisioner(IServiceBusRestClient client, EntityNames names, ServiceBusTransportOptions options, Uri namespaceUri)
{
    /// <summary>Error queues are only read by tools: a peek (lock, unlock) must never push them to their own
    /// dead-letter subqueue, so their delivery count is unbounded.</summary>
    private const int UnboundedDeliveries = int.MaxValue;

    public async Task ProvisionAsync(TransportTopology topology, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(topology);
        ArgumentException.ThrowIfNullOrWhiteSpace(topology.InputQueue);
        var queue = names.Queue(topology.InputQueue);
        var wanted = new List<(string Kind, string Path, string Description, string? ForwardTo)>
        {
            ("queue", queue, EntityDescriptions.Queue(options.LockDuration, options.MaxDeliveryCount), null),
            ("error queue", names.ErrorQueue(topology.InputQueue), EntityDescriptions.Queue(options.LockDuration, UnboundedDeliveries), null),
        };
        foreach (var topic in topology.PublishedTopics.Concat(topology.Subscriptions).Distinct(StringComparer.Ordinal))
        {
            wanted.Add(("topic", names.Topic(topic), EntityDescriptions.Topic(), null));
        }

        foreach (var topic in topology.Subscriptions.Distinct(StringComparer.Ordinal))
        {
            wanted.Add(("subscription", names.Subscription(topic, topology.InputQueue),
                EntityDescriptions.Subscription(options.LockDuration, options.MaxDeliveryCount, new Uri(namespaceUri, queue).AbsoluteUri), queue));
        }

        if (options.ProvisioningMode == ProvisioningMode.CreateIfMissing)
        {
            // Queues before topics, topics before their subscriptions, so forwarding targets exist.
            foreach (var entity in wanted)
            {
                await client.CreateEntityAsync(entity.Path, entity.Description, cancellationToken).ConfigureAwait(false);
            }
        }

        var missing = new List<string>();
        var problems = new List<string>();
        foreach (var entity in wanted)
        {
            var info = await client.GetEntityAsync(entity.Path, cancellationToken).ConfigureAwait(false);
            if (info is null)
            {
                missing.Add($"{entity.Kind} '{entity.Path}'");
            }
            else if (entity.Kind == "queue" && info.ForwardTo is { } elsewhere)
            {
                // A queue that forwards hands every message on before anyone can receive it: the endpoint would read
                // nothing. Not changed here: someone set it on purpose. (An error queue that forwards its dead letters
                // to a central one is a choice, not a fault: they are kept there, and redrive finds none here.)
                problems.Add($"queue '{entity.Path}' forwards to '{elsewhere}', so the endpoint would never receive its " +
                             "messages; remove its ForwardTo");
            }
            else if (entity.Kind == "queue" && info.LockDuration is { } actual && actual < options.LockDuration)
            {
                // The lease renewer plans by the configured LockDuration: a shorter real lock would expire before renewal.
                problems.Add($"queue '{entity.Path}' has LockDuration {actual} but ServiceBusTransportOptions.LockDuration is " +
                             $"{options.LockDuration}; set the option to at most {actual} or update the queue");
            }
            else if (entity.ForwardTo is { } queueTarget && !string.Equals(info.ForwardTo, queueTarget, StringComparison.OrdinalIgnoreCase))
            {
                // A subscription made by hand (or for an older topology) that does not forward into the endpoint's queue
                // keeps the events to itself: the endpoint would never see them.
                if (await ForwardingProblemAsync(entity.Path, entity.Description, info, queueTarget, cancellationToken).ConfigureAwait(false) is { } problem)
                {
                    problems.Add(problem);
                }
            }
        }

        if (missing.Count > 0)
        {
            throw new BusConfigurationException(
                $"Azure Service Bus entities for endpoint '{topology.InputQueue}' are missing ({(options.ProvisioningMode == ProvisioningMode.VerifyOnly ? "ProvisioningMode.VerifyOnly" : "they could not be created")}): " +
                string.Join(", ", missing) + ". Create them, or use ProvisioningMode.CreateIfMissing with a Manage right.");
        }

        if (problems.Count > 0)
        {
            throw new BusConfigurationException("Azure Service Bus entities do not match the transport options: " + string.Join("; ", problems) + ".");
        }
    }

    /// <summary>Verify-only reports a subscription that forwards elsewhere (or nowhere); provisioning sets its ForwardTo
    /// (<c>If-Match: *</c>) and keeps its other settings, and reports a refusal (e.g. no Manage right) naming the
    /// subscription. A subscription that requires sessions is reported, not changed: its sessions could not be
    /// forwarded into the endpoint's queue, which has none.</summary>
    private async Task<string?> ForwardingProblemAsync(string path, string description, EntityInfo existing, string queue, CancellationToken cancellationToken)
    {
        var now = existing.ForwardTo is null ? "does not forward" : $"forwards to '{existing.ForwardTo}', not";
        if (options.ProvisioningMode == ProvisioningMode.VerifyOnly)
        {
            return $"subscription '{path}' {now} into the endpoint's queue '{queue}'; set its ForwardTo to '{queue}' " +
                   "or use ProvisioningMode.CreateIfMissing to update it";
        }

        if (string.Equals(existing.Description?.Element(EntityDescriptions.ServiceBus + "RequiresSession")?.Value, "true", StringComparison.OrdinalIgnoreCase))
        {
            return $"subscription '{path}' {now} into the endpoint's queue '{queue}', and it RequiresSession, which the queue " +
                   "does not: delete it (provisioning then creates it) or point it at the queue by hand";
        }

        var update = existing.Description is { } read
            ? EntityDescriptions.ForwardingUpdate(read, new Uri(namespaceUri, queue).AbsoluteUri)
            : description;
        try
        {
            await client.UpdateEntityAsync(path, update, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (ServiceBusRequestException e)
        {
            return $"subscription '{path}' {now} into the endpoint's queue '{queue}', and updating it failed: {e.Message}";
        }
    }
}

using Azure.Messaging.ServiceBus;
using Azure.Messaging.ServiceBus.Administration;
using Bus.Transports;

namespace Bus.AzureServiceBus.Topology;

/// <summary>
/// Creates (or verifies) an endpoint's queue, the topics it publishes to and a subscription per subscribed topic that
/// forwards into the endpoint's queue, with <see cref="ServiceBusAdministrationClient"/>. Every missing entity and every
/// setting that differs from the options is collected, and reported together in one error.
/// </summary>
internal sealed class TopologyProvisioner(ServiceBusAdministrationClient admin, EntityNames names, ServiceBusTransportOptions options, EntitySizeLimits limits)
{
    private bool Create => options.ProvisioningMode == ProvisioningMode.CreateIfMissing;

    public async Task ProvisionAsync(TransportTopology topology, ServiceBusTier tier, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(topology);
        ArgumentException.ThrowIfNullOrWhiteSpace(topology.InputQueue);
        var missing = new List<string>();
        var problems = new List<string>();
        var queue = names.Queue(topology.InputQueue);
        var topics = topology.PublishedTopics.Concat(topology.Subscriptions).Distinct(StringComparer.Ordinal).ToList();
        if (tier == ServiceBusTier.Basic && topics.Count > 0)
        {
            throw new BusConfigurationException(
                $"Endpoint '{topology.InputQueue}' publishes or subscribes to events ({string.Join(", ", topics)}), but the Basic tier of Azure " +
                "Service Bus has no topics. Use a Standard or Premium namespace, or send commands only.");
        }

        await ProvisionQueueAsync(queue, tier, missing, problems, cancellationToken).ConfigureAwait(false);
        if (options.PriorityQueue)
        {
            await ProvisionQueueAsync(names.PriorityQueue(topology.InputQueue), tier, missing, problems, cancellationToken).ConfigureAwait(false);
        }
        foreach (var topic in topics)
        {
            await ProvisionTopicAsync(names.Topic(topic), tier, missing, cancellationToken).ConfigureAwait(false);
        }

        foreach (var topic in topology.Subscriptions.Distinct(StringComparer.Ordinal))
        {
            await ProvisionSubscriptionAsync(names.Topic(topic), names.SubscriptionName(topology.InputQueue), queue, missing, problems, cancellationToken)
                .ConfigureAwait(false);
        }

        if (missing.Count > 0 || problems.Count > 0)
        {
            var parts = new List<string>();
            if (missing.Count > 0)
            {
                parts.Add("missing: " + string.Join(", ", missing));
            }

            if (problems.Count > 0)
            {
                parts.Add("not as configured: " + string.Join("; ", problems));
            }

            var remedy = Create
                ? "Fix or delete these entities (provisioning then creates them), or change the transport options to match."
                : "Create or fix them (or use ProvisioningMode.CreateIfMissing with Manage rights), or change the transport options to match.";
            throw new BusConfigurationException(
                $"Azure Service Bus entities of endpoint '{topology.InputQueue}' ({options.ProvisioningMode}): {string.Join(". ", parts)}. {remedy}");
        }
    }

    private async Task ProvisionQueueAsync(string queue, ServiceBusTier tier, List<string> missing, List<string> problems, CancellationToken cancellationToken)
    {
        var existing = await GetAsync(() => admin.GetQueueAsync(queue, cancellationToken)).ConfigureAwait(false);
        if (existing is null && Create)
        {
            var create = new CreateQueueOptions(queue)
            {
                LockDuration = options.LockDuration,
                MaxDeliveryCount = options.MaxDeliveryCount,
                MaxSizeInMegabytes = options.MaxSizeInMegabytes,
                DeadLetteringOnMessageExpiration = true,
                EnableBatchedOperations = true,
            };
            if (tier == ServiceBusTier.Premium && options.MaxMessageSizeInKilobytes is { } kilobytes)
            {
                create.MaxMessageSizeInKilobytes = kilobytes;
            }

            existing = await CreateAsync(() => admin.CreateQueueAsync(create, cancellationToken), () => admin.GetQueueAsync(queue, cancellationToken))
                .ConfigureAwait(false);
        }

        if (existing is null)
        {
            missing.Add($"queue '{queue}'");
            return;
        }

        if (!string.IsNullOrEmpty(existing.ForwardTo))
        {
            // A queue that forwards hands every message on before anyone can receive it. Someone set it on purpose: not changed.
            problems.Add($"queue '{queue}' forwards to '{existing.ForwardTo}', so the endpoint would never receive its messages (remove its ForwardTo)");
        }

        if (existing.RequiresSession)
        {
            problems.Add($"queue '{queue}' requires sessions, which the transport does not use (recreate it without RequiresSession)");
        }

        var differences = new List<string>();
        if (existing.LockDuration != options.LockDuration)
        {
            differences.Add($"LockDuration is {existing.LockDuration}, the options say {options.LockDuration}");
        }

        if (existing.MaxDeliveryCount != options.MaxDeliveryCount)
        {
            differences.Add($"MaxDeliveryCount is {existing.MaxDeliveryCount}, the options say {options.MaxDeliveryCount}");
        }

        if (existing.MaxSizeInMegabytes < options.MaxSizeInMegabytes)
        {
            differences.Add($"MaxSizeInMegabytes is {existing.MaxSizeInMegabytes}, the options say {options.MaxSizeInMegabytes}");
        }

        if (tier == ServiceBusTier.Premium && options.MaxMessageSizeInKilobytes is { } wanted && existing.MaxMessageSizeInKilobytes != wanted)
        {
            differences.Add($"MaxMessageSizeInKilobytes is {existing.MaxMessageSizeInKilobytes}, the options say {wanted}");
        }

        if (differences.Count > 0 && Create)
        {
            existing.LockDuration = options.LockDuration;
            existing.MaxDeliveryCount = options.MaxDeliveryCount;
            existing.MaxSizeInMegabytes = Math.Max(existing.MaxSizeInMegabytes, options.MaxSizeInMegabytes);
            if (tier == ServiceBusTier.Premium && options.MaxMessageSizeInKilobytes is { } kilobytes)
            {
                existing.MaxMessageSizeInKilobytes = kilobytes;
            }

            try
            {
                existing = (await admin.UpdateQueueAsync(existing, cancellationToken).ConfigureAwait(false)).Value;
                differences.Clear();
            }
            catch (ServiceBusException e)
            {
                differences.Add($"updating it failed: {e.Message}");
            }
        }

        if (differences.Count > 0)
        {
            problems.Add($"queue '{queue}': {string.Join(", ", differences)}");
        }

        limits.Note(queue, existing.MaxMessageSizeInKilobytes);
    }

    private async Task ProvisionTopicAsync(string topic, ServiceBusTier tier, List<string> missing, CancellationToken cancellationToken)
    {
        var existing = await GetAsync(() => admin.GetTopicAsync(topic, cancellationToken)).ConfigureAwait(false);
        if (existing is null && Create)
        {
            var create = new CreateTopicOptions(topic) { MaxSizeInMegabytes = options.MaxSizeInMegabytes, EnableBatchedOperations = true };
            if (tier == ServiceBusTier.Premium && options.MaxMessageSizeInKilobytes is { } kilobytes)
            {
                create.MaxMessageSizeInKilobytes = kilobytes;
            }

            existing = await CreateAsync(() => admin.CreateTopicAsync(create, cancellationToken), () => admin.GetTopicAsync(topic, cancellationToken))
                .ConfigureAwait(false);
        }

        if (existing is null)
        {
            missing.Add($"topic '{topic}'");
            return;
        }

        limits.Note(topic, existing.MaxMessageSizeInKilobytes);
    }

    private async Task ProvisionSubscriptionAsync(
        string topic, string subscription, string queue, List<string> missing, List<string> problems, CancellationToken cancellationToken)
    {
        var path = $"{topic}/subscriptions/{subscription}";
        var existing = await GetAsync(() => admin.GetSubscriptionAsync(topic, subscription, cancellationToken)).ConfigureAwait(false);
        if (existing is null && Create)
        {
            var create = new CreateSubscriptionOptions(topic, subscription)
            {
                ForwardTo = queue,
                LockDuration = options.LockDuration,
                MaxDeliveryCount = options.MaxDeliveryCount,
                DeadLetteringOnMessageExpiration = true,
                EnableBatchedOperations = true,
            };
            existing = await CreateAsync(
                    () => admin.CreateSubscriptionAsync(create, cancellationToken),
                    () => admin.GetSubscriptionAsync(topic, subscription, cancellationToken))
                .ConfigureAwait(false);
        }

        if (existing is null)
        {
            missing.Add($"subscription '{path}' (forwarding to queue '{queue}')");
            return;
        }

        if (ForwardsTo(existing.ForwardTo, queue))
        {
            return;
        }

        var now = string.IsNullOrEmpty(existing.ForwardTo) ? "does not forward" : $"forwards to '{existing.ForwardTo}', not";
        if (existing.RequiresSession)
        {
            problems.Add($"subscription '{path}' {now} into queue '{queue}' and requires sessions, which the queue does not " +
                         "(delete it; provisioning then creates it)");
            return;
        }

        if (!Create)
        {
            problems.Add($"subscription '{path}' {now} into queue '{queue}' (set its ForwardTo to '{queue}')");
            return;
        }

        existing.ForwardTo = queue;
        try
        {
            await admin.UpdateSubscriptionAsync(existing, cancellationToken).ConfigureAwait(false);
        }
        catch (ServiceBusException e)
        {
            problems.Add($"subscription '{path}' {now} into queue '{queue}', and updating it failed: {e.Message}");
        }
    }

    /// <summary>Whether a ForwardTo (an entity name or a full <c>sb://</c> address) names <paramref name="queue"/>.</summary>
    internal static bool ForwardsTo(string? forwardTo, string queue)
    {
        if (string.IsNullOrEmpty(forwardTo))
        {
            return false;
        }

        var target = forwardTo.TrimEnd('/');
        var slash = target.LastIndexOf('/');
        return string.Equals(slash < 0 ? target : target[(slash + 1)..], queue, StringComparison.OrdinalIgnoreCase);
    }

    private static async Task<T?> GetAsync<T>(Func<Task<Azure.Response<T>>> get)
        where T : class
    {
        try
        {
            return (await get().ConfigureAwait(false)).Value;
        }
        catch (ServiceBusException e) when (e.Reason == ServiceBusFailureReason.MessagingEntityNotFound)
        {
            return null;
        }
    }

    /// <summary>Creates an entity; one another host created meanwhile is read instead.</summary>
    private static async Task<T> CreateAsync<T>(Func<Task<Azure.Response<T>>> create, Func<Task<Azure.Response<T>>> get)
    {
        try
        {
            return (await create().ConfigureAwait(false)).Value;
        }
        catch (ServiceBusException e) when (e.Reason == ServiceBusFailureReason.MessagingEntityAlreadyExists)
        {
            return (await get().ConfigureAwait(false)).Value;
        }
    }
}

using Bus.Leases;
using Bus.Schedules;
using Bus.Steps;
using Bus.Transports;
using Bus.Workflows;

namespace Bus.Hosting;

/// <summary>Checks at start-up that the transport can honour every handler's execution profile.</summary>
internal static class StartupChecks
{
    /// <summary>The problems found, each a sentence naming the handler, the need and the transport's limit.</summary>
    public static IReadOnlyList<string> Find(
        BusConfiguration config, TransportCapabilities capabilities, bool subscribes, IStepStore steps, IWorkflowStore? workflows,
        IScheduleStore? schedules = null)
    {
        var problems = new List<string>();
        if (capabilities.SharedBetweenHosts && !config.AllowInMemoryStores)
        {
            if (steps is InMemoryStepStore)
            {
                problems.Add($"The {capabilities.Name} transport is shared between hosts, but the step store is in memory on this host: a step finished " +
                             "on one host would run again on another. Use a durable step store (UseSqliteStepStore on one machine; UsePostgreSqlStepStore, " +
                             "UseDynamoDbStepStore, UseAzureTablesStepStore or another shared store on several), or set bus.AllowInMemoryStores = true when this endpoint runs " +
                             "on one host or runs no memoised steps.");
            }

            if (workflows is InMemoryWorkflowStore)
            {
                problems.Add($"The {capabilities.Name} transport is shared between hosts, but the workflow store is in memory on this host: a workflow " +
                             "started on one host would not be found by another. Use a durable workflow store (UseSqliteWorkflowStore on one machine; " +
                             "UsePostgreSqlWorkflowStore, UseDynamoDbWorkflowStore, UseAzureTablesWorkflowStore or another shared store on several), or set " +
                             "bus.AllowInMemoryStores = true when this endpoint runs on one host.");
            }

            if (schedules is InMemoryScheduleStore)
            {
                problems.Add($"The {capabilities.Name} transport is shared between hosts, but the schedule store is in memory on this host: every " +
                             "host would fire each tick of the schedules. Use a durable schedule store (UseSqliteScheduleStore on one machine; " +
                             "UsePostgreSqlScheduleStore, UseDynamoDbScheduleStore, UseAzureTablesScheduleStore or another shared store on several), or set " +
                             "bus.AllowInMemoryStores = true when this endpoint runs on one host.");
            }
        }

        var profiles = new List<(string Owner, ExecutionProfile Profile)> { ("the default profile", config.Profile) };
        profiles.AddRange(config.AllHandlerOptions.Where(kv => kv.Value.Profile is not null)
            .Select(kv => ($"handlers of {kv.Key.Name}", kv.Value.Profile!)));

        foreach (var (owner, profile) in profiles)
        {
            if (profile.AutomaticRenewal && !capabilities.CanRenewLease && profile.MaxRuntime > profile.LeaseDuration)
            {
                problems.Add($"{owner} may run for {profile.MaxRuntime}, longer than the lease of {profile.LeaseDuration}, and need heartbeats, but the {capabilities.Name} transport cannot renew leases.");
            }

            if (!capabilities.LeaseDurationIsFixed && profile.LeaseDuration > capabilities.MaxLeaseDuration)
            {
                problems.Add($"{owner} ask for a lease of {profile.LeaseDuration}, but the {capabilities.Name} transport grants at most {capabilities.MaxLeaseDuration}.");
            }

            if (capabilities.MaxTotalLeaseTime is { } total && profile.MaxRuntime > total)
            {
                problems.Add($"{owner} may run for {profile.MaxRuntime}, but the {capabilities.Name} transport holds a message for at most {total} in all; lower MaxRuntime or split the job into steps.");
            }
        }

        if (capabilities.PriorityOrdering == PriorityOrdering.None)
        {
            foreach (var type in config.Messages.All.Where(t => t.Priority > 0).OrderBy(t => t.WireName, StringComparer.Ordinal))
            {
                problems.Add($"Message type {type.ClrType.Name} has [MessagePriority({type.Priority})], but the {capabilities.Name} transport does not " +
                             "order messages by priority: remove the attribute or use a transport that does (in-memory, SQLite, PostgreSQL, SQS, Service Bus).");
            }
        }

        if (subscribes && !capabilities.PublishSubscribe)
        {
            problems.Add($"This endpoint subscribes to events, but the {capabilities.Name} transport has no publish/subscribe.");
        }

        return problems;
    }
}

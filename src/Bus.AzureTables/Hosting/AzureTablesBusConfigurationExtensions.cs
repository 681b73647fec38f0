using Bus.AzureTables;
using Bus.AzureTables.Connection;
using Bus.AzureTables.Hosting;
using Bus.Jobs;
using Bus.Schedules;
using Bus.Steps;
using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Bus.Hosting;

/// <summary>Registers the Azure Table storage workflow, step and job status stores on a <see cref="BusConfiguration"/>.</summary>
public static class AzureTablesBusConfigurationExtensions
{
    /// <summary>Stores workflow instances (<see cref="IWorkflowStore"/>) in the table <c>{prefix}Workflows</c>, shared
    /// by every host, replacing any workflow store registered before. The client is
    /// <see cref="AzureTablesStoreOptions.Client"/>, else a <c>TableServiceClient</c> from dependency injection, else one
    /// built from the connection string or the endpoint and credential. The table is created or verified at start-up.</summary>
    /// <exception cref="ArgumentException">The options are invalid (checked now).</exception>
    public static BusConfiguration UseAzureTablesWorkflowStore(this BusConfiguration bus, Action<AzureTablesStoreOptions> configure)
    {
        var options = Configure(bus, configure);
        bus.Services.Replace(ServiceDescriptor.Singleton<IWorkflowStore>(sp =>
            new AzureTablesWorkflowStore(TableServiceClientFactory.Create(options, sp), options)));
        return bus;
    }

    /// <summary>Stores finished steps of jobs (<see cref="IStepStore"/>) in the table <c>{prefix}Steps</c>, shared by
    /// every host, replacing any step store registered before. The client is resolved as for
    /// <see cref="UseAzureTablesWorkflowStore"/>; the clock is the container's <see cref="TimeProvider"/>, else the
    /// system clock.</summary>
    /// <exception cref="ArgumentException">The options are invalid (checked now).</exception>
    public static BusConfiguration UseAzureTablesStepStore(this BusConfiguration bus, Action<AzureTablesStoreOptions> configure)
    {
        var options = Configure(bus, configure);
        bus.Services.Replace(ServiceDescriptor.Singleton<IStepStore>(sp =>
            new AzureTablesStepStore(TableServiceClientFactory.Create(options, sp), options, sp.GetService<TimeProvider>())));
        return bus;
    }

    /// <summary>Stores job statuses (<see cref="IJobStatusStore"/>: progress, final state, result) in the table
    /// <c>{prefix}Jobs</c>, shared by every host, replacing any job status store registered before, so that any host
    /// answers <see cref="IJobStatusQuery"/> for any job. The client is resolved as for
    /// <see cref="UseAzureTablesWorkflowStore"/>. The table is created or verified at start-up.</summary>
    /// <exception cref="ArgumentException">The options are invalid (checked now).</exception>
    public static BusConfiguration UseAzureTablesJobStatusStore(this BusConfiguration bus, Action<AzureTablesStoreOptions> configure)
    {
        var options = Configure(bus, configure);
        bus.Services.Replace(ServiceDescriptor.Singleton<IJobStatusStore>(sp =>
            new AzureTablesJobStatusStore(TableServiceClientFactory.Create(options, sp), options)));
        return bus;
    }

    /// <summary>Claims the ticks of recurring schedules (<see cref="IScheduleStore"/>) in the table
    /// <c>{prefix}Schedules</c>, shared by every host, replacing any schedule store registered before, so that one host
    /// fires each tick and pausing holds for all. The client is resolved as for <see cref="UseAzureTablesWorkflowStore"/>.
    /// The table is created or verified at start-up.</summary>
    /// <exception cref="ArgumentException">The options are invalid (checked now).</exception>
    public static BusConfiguration UseAzureTablesScheduleStore(this BusConfiguration bus, Action<AzureTablesStoreOptions> configure)
    {
        var options = Configure(bus, configure);
        bus.Services.Replace(ServiceDescriptor.Singleton<IScheduleStore>(sp =>
            new AzureTablesScheduleStore(TableServiceClientFactory.Create(options, sp), options)));
        return bus;
    }

    private static AzureTablesStoreOptions Configure(BusConfiguration bus, Action<AzureTablesStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new AzureTablesStoreOptions();
        configure(options);

        // A TableServiceClient may still come from dependency injection: the account is checked when the store is built.
        options.Validate(requireAccount: false);
        bus.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, AzureTablesProvisioningService>());
        return options.Clone();
    }
}

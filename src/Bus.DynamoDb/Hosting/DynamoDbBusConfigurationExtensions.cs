using Bus.DynamoDb;
using Bus.DynamoDb.Connection;
using Bus.DynamoDb.Hosting;
using Bus.Jobs;
using Bus.Schedules;
using Bus.Steps;
using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Bus.Hosting;

/// <summary>Registers the DynamoDB workflow, step and job status stores on a <see cref="BusConfiguration"/>.</summary>
public static class DynamoDbBusConfigurationExtensions
{
    /// <summary>Stores workflow instances (<see cref="IWorkflowStore"/>) in the DynamoDB table
    /// <c>{prefix}workflows</c>, shared by every host, replacing any workflow store registered before. The client is
    /// <see cref="DynamoDbStoreOptions.Client"/>, else an <c>IAmazonDynamoDB</c> from dependency injection, else one
    /// built from the options. The table is created or verified at start-up.</summary>
    /// <exception cref="ArgumentException">The options are invalid (checked now).</exception>
    public static BusConfiguration UseDynamoDbWorkflowStore(this BusConfiguration bus, Action<DynamoDbStoreOptions>? configure = null)
    {
        var options = Configure(bus, configure);
        bus.Services.Replace(ServiceDescriptor.Singleton<IWorkflowStore>(sp =>
        {
            var (client, owned) = DynamoDbClientFactory.Create(options, sp);
            return new DynamoDbWorkflowStore(client, options, owned);
        }));
        return bus;
    }

    /// <summary>Stores finished steps of jobs (<see cref="IStepStore"/>) in the DynamoDB table <c>{prefix}steps</c>,
    /// shared by every host, replacing any step store registered before. The client is resolved as for
    /// <see cref="UseDynamoDbWorkflowStore"/>; the clock is the container's <see cref="TimeProvider"/>, else the
    /// system clock.</summary>
    /// <exception cref="ArgumentException">The options are invalid (checked now).</exception>
    public static BusConfiguration UseDynamoDbStepStore(this BusConfiguration bus, Action<DynamoDbStoreOptions>? configure = null)
    {
        var options = Configure(bus, configure);
        bus.Services.Replace(ServiceDescriptor.Singleton<IStepStore>(sp =>
        {
            var (client, owned) = DynamoDbClientFactory.Create(options, sp);
            return new DynamoDbStepStore(client, options, sp.GetService<TimeProvider>(), owned);
        }));
        return bus;
    }

    /// <summary>Stores job statuses (<see cref="IJobStatusStore"/>: progress, final state, result) in the DynamoDB
    /// table <c>{prefix}jobs</c>, shared by every host, replacing any job status store registered before, so that any
    /// host answers <see cref="IJobStatusQuery"/> for any job. The client is resolved as for
    /// <see cref="UseDynamoDbWorkflowStore"/>. The table and its index are created or verified at start-up.</summary>
    /// <exception cref="ArgumentException">The options are invalid (checked now).</exception>
    public static BusConfiguration UseDynamoDbJobStatusStore(this BusConfiguration bus, Action<DynamoDbStoreOptions>? configure = null)
    {
        var options = Configure(bus, configure);
        bus.Services.Replace(ServiceDescriptor.Singleton<IJobStatusStore>(sp =>
        {
            var (client, owned) = DynamoDbClientFactory.Create(options, sp);
            return new DynamoDbJobStatusStore(client, options, owned);
        }));
        return bus;
    }

    /// <summary>Claims the ticks of recurring schedules (<see cref="IScheduleStore"/>) in the DynamoDB table
    /// <c>{prefix}schedules</c>, shared by every host, replacing any schedule store registered before, so that one host
    /// fires each tick and pausing holds for all. The client is resolved as for <see cref="UseDynamoDbWorkflowStore"/>.
    /// The table is created or verified at start-up.</summary>
    /// <exception cref="ArgumentException">The options are invalid (checked now).</exception>
    public static BusConfiguration UseDynamoDbScheduleStore(this BusConfiguration bus, Action<DynamoDbStoreOptions>? configure = null)
    {
        var options = Configure(bus, configure);
        bus.Services.Replace(ServiceDescriptor.Singleton<IScheduleStore>(sp =>
        {
            var (client, owned) = DynamoDbClientFactory.Create(options, sp);
            return new DynamoDbScheduleStore(client, options, owned);
        }));
        return bus;
    }

    private static DynamoDbStoreOptions Configure(BusConfiguration bus, Action<DynamoDbStoreOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(bus);
        var options = new DynamoDbStoreOptions();
        configure?.Invoke(options);
        options.Validate();
        bus.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, DynamoDbProvisioningService>());
        return options.Clone();
    }
}

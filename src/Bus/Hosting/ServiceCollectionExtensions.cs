using Bus.Jobs;
using Bus.Pipeline;
using Bus.Recoverability;
using Bus.Schedules;
using Bus.Serialization;
using Bus.Steps;
using Bus.SystemMessages;
using Bus.Transports;
using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bus.Hosting;

/// <summary>Adds the bus to a service collection.</summary>
public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Adds a bus endpoint: <see cref="IBus"/>, its transport, handlers and a hosted service that starts and stops it
    /// with the host. The configuration is validated here; transport capabilities are checked at start-up.
    /// </summary>
    /// <exception cref="BusConfigurationException">The configuration cannot work; the message says why.</exception>
    public static IServiceCollection AddBus(this IServiceCollection services, Action<BusConfiguration> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        if (services.Any(d => d.ServiceType == typeof(BusConfiguration)))
        {
            throw new BusConfigurationException("AddBus was called twice on one service collection; one host runs one bus endpoint.");
        }

        var config = new BusConfiguration(services);
        configure(config);
        config.Validate();

        services.AddSingleton(config);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        services.TryAddSingleton<IStepStore, InMemoryStepStore>();
        services.TryAddSingleton<IWorkflowStore, InMemoryWorkflowStore>();

        // The status query resolves even on an endpoint without workflows (it then finds nothing).
        if (!services.Any(d => d.ServiceType == typeof(WorkflowRegistry)))
        {
            services.AddSingleton(new WorkflowRegistry());
        }

        services.TryAddSingleton<IWorkflowStatusQuery, WorkflowStatusQuery>();
        services.AddSingleton(config.SystemMessages);
        services.TryAddSingleton<IJobStatusStore, InMemoryJobStatusStore>();
        services.AddSingleton<IJobStatusQuery, JobStatusQuery>();
        services.TryAddSingleton<IScheduleStore, InMemoryScheduleStore>();
        services.AddSingleton<ISchedules>(sp => new ScheduleBoard(
            config.Schedules, type => config.Messages.Get(type).WireName, sp.GetRequiredService<IScheduleStore>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new ScheduleRunner(
            config.Schedules, sp.GetRequiredService<IScheduleStore>(), sp.GetRequiredService<IBus>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton(sp => config.TransportFactory!(sp));
        services.AddSingleton(sp => sp.GetRequiredService<ITransport>().DeadLetters);
        services.AddSingleton(sp => sp.GetRequiredService<ITransport>() is var transport && transport.Statistics is { } statistics
            ? statistics
            : new UnsupportedQueueStatistics(transport.Capabilities.Name));
        services.AddSingleton(sp => config.SerializerFactory?.Invoke(sp) ?? new SystemTextJsonMessageSerializer(new System.Text.Json.JsonSerializerOptions(config.Json)));

        // Sending: a service of its own, all a send-only endpoint builds.
        services.AddSingleton(sp => new MessageSender(
            config.Messages, config.Handlers, config.Routes, config.EndpointName!, sp.GetRequiredService<IMessageSerializer>(),
            sp.GetRequiredService<ITransport>(), sp.GetRequiredService<TimeProvider>(), config.Strict));
        services.AddSingleton<IBus>(sp => new MessageBus(sp.GetRequiredService<MessageSender>()));

        // Receiving: built when the host starts receiving (not on a send-only endpoint).
        services.AddSingleton<HandlerServices>();
        services.AddSingleton<HandlingTable>();
        services.AddSingleton<RetryDecision>();
        services.AddSingleton<IncomingPipeline>();
        services.AddSingleton<DeliverySettler>();
        services.AddSingleton<ReceiveLoopState>();
        services.AddSingleton<BusHost>();
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<BusHost>());
        return services;
    }
}

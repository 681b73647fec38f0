using Azure.Identity;
using Azure.Messaging.ServiceBus;
using Azure.Messaging.ServiceBus.Administration;
using Bus.AzureServiceBus;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bus.Hosting;

/// <summary>Registers the Azure Service Bus transport on a bus.</summary>
public static class ServiceBusBusConfigurationExtensions
{
    /// <summary>
    /// Uses Azure Service Bus as the bus's transport. Connect with a connection string, or a fully qualified namespace
    /// with a <c>TokenCredential</c> (<c>DefaultAzureCredential</c> when none is given), or set neither to use the
    /// <see cref="ServiceBusClient"/> registered in the service collection (with the <see cref="ServiceBusAdministrationClient"/>
    /// registered there, or one made with <see cref="ServiceBusTransportOptions.TokenCredential"/>). The options are
    /// validated here; MaxDeliveryCount is checked against the retry policy when the bus starts.
    /// </summary>
    /// <param name="bus">The bus configuration.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>The bus configuration.</returns>
    public static BusConfiguration UseAzureServiceBus(this BusConfiguration bus, Action<ServiceBusTransportOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new ServiceBusTransportOptions();
        configure(options);
        options.Validate();
        return bus.UseTransport(services =>
        {
            if (options.MaxDeliveryCount <= bus.Retry.MaxAttempts)
            {
                throw new BusConfigurationException(
                    $"ServiceBusTransportOptions.MaxDeliveryCount ({options.MaxDeliveryCount}) must be above the bus's Retry.MaxAttempts " +
                    $"({bus.Retry.MaxAttempts}), or Service Bus dead-letters messages before the retry policy is done with them. " +
                    $"Set MaxDeliveryCount to at least {bus.Retry.MaxAttempts + 1}.");
            }

            options.TimeProvider ??= services.GetService<TimeProvider>();
            options.PrefetchCount ??= 0; // a prefetched message is locked and counted: a killed host would cost it an attempt
            options.Strict = bus.Strict;
            var loggers = services.GetService<ILoggerFactory>();
            if (!options.UsesClientFromServices)
            {
                return new ServiceBusTransport(options, loggers);
            }

            var client = services.GetService<ServiceBusClient>() ?? throw new BusConfigurationException(
                "UseAzureServiceBus has no connection: set ServiceBusTransportOptions.ConnectionString, or FullyQualifiedNamespace (with a " +
                "TokenCredential), or register a ServiceBusClient in the service collection.");
            var admin = services.GetService<ServiceBusAdministrationClient>()
                ?? new ServiceBusAdministrationClient(client.FullyQualifiedNamespace, options.TokenCredential ?? new DefaultAzureCredential());
            return new ServiceBusTransport(options, client, admin, loggers);
        });
    }
}

using Bus.AzureServiceBus;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Hosting;

/// <summary>Registers the Azure Service Bus transport on a bus.</summary>
public static class ServiceBusBusConfigurationExtensions
{
    /// <summary>Uses Azure Service Bus as the bus's transport. The options are validated here, so a missing connection
    /// string part or an out-of-range setting fails at start-up with a message naming it.</summary>
    /// <param name="bus">The bus configuration.</param>
    /// <param name="configure">Sets the options: a connection string, or a namespace with an Entra ID credential.</param>
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
            options.TimeProvider ??= services.GetService<TimeProvider>();
            return new ServiceBusTransport(options);
        });
    }
}

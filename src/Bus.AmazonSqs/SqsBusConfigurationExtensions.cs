using Bus.AmazonSqs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bus.Hosting;

/// <summary>Registers the Amazon SQS + SNS transport.</summary>
public static class SqsBusConfigurationExtensions
{
    /// <summary>Uses Amazon SQS (queues, dead-letter queues) and SNS (topics for events) as the bus's transport.</summary>
    /// <param name="bus">The bus configuration.</param>
    /// <param name="configure">Sets the options; they are validated immediately.</param>
    /// <returns>The bus configuration.</returns>
    public static BusConfiguration UseAmazonSqs(this BusConfiguration bus, Action<SqsTransportOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new SqsTransportOptions();
        configure(options);
        options.Validate();
        return bus.UseTransport(sp => new SqsTransport(
            options,
            sp.GetService<ILoggerFactory>(),
            sp.GetService<TimeProvider>()));
    }
}

using Bus.AmazonSqs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bus.Hosting;

/// <summary>Registers the Amazon SQS + SNS transport.</summary>
public static class SqsBusConfigurationExtensions
{
    /// <summary>
    /// Uses Amazon SQS (queues, dead-letter queues) and SNS (topics for events) as the bus's transport. The SQS client
    /// is <see cref="SqsTransportOptions.SqsClient"/>, else an <c>IAmazonSQS</c> registered in dependency injection
    /// (<c>services.AddAWSService&lt;IAmazonSQS&gt;()</c>), else one built from the options with the SDK's credential
    /// chain.
    /// </summary>
    /// <param name="bus">The bus configuration.</param>
    /// <param name="configure">Sets the options; they are validated immediately (the region when the transport is
    /// built, since a client from dependency injection may bring it).</param>
    /// <returns>The bus configuration.</returns>
    public static BusConfiguration UseAmazonSqs(this BusConfiguration bus, Action<SqsTransportOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new SqsTransportOptions();
        configure(options);
        options.Validate(requireRegion: false);
        return bus.UseTransport(sp => new SqsTransport(
            options,
            sp,
            bus.Retry,
            sp.GetService<ILoggerFactory>(),
            sp.GetService<TimeProvider>()));
    }
}

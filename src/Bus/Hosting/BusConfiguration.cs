using Bus.Transports;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Hosting;

/// <summary>What <c>services.AddBus(bus =&gt; ...)</c> configures: the endpoint, its transport, handlers, routing and policies.</summary>
public sealed partial class BusConfiguration
{
    internal BusConfiguration(IServiceCollection services)
    {
        Services = services;
    }

    /// <summary>The service collection the bus is added to; transport packages register their services here.</summary>
    public IServiceCollection Services { get; }

    internal Func<IServiceProvider, ITransport>? TransportFactory { get; private set; }

    /// <summary>Uses the transport that <paramref name="factory"/> creates (once, as a singleton). Transport packages
    /// wrap this in their own <c>UseXxx</c> extension.</summary>
    public BusConfiguration UseTransport(Func<IServiceProvider, ITransport> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        TransportFactory = factory;
        return this;
    }
}

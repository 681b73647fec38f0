using Azure.Messaging.ServiceBus;
using Azure.Messaging.ServiceBus.Administration;
using Bus.AzureServiceBus.Tests.Fake;
using Bus.Conformance;
using Bus.Hosting;
using Bus.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.AzureServiceBus.Tests.Conformance;

/// <summary>
/// The bus-level conformance suite on Service Bus, against one in-process fake namespace per test on a manual clock that
/// the fake, the transport and the buses all share. The clients come from the service collection, as an application
/// that registers its own <see cref="ServiceBusClient"/> would have them.
/// </summary>
public sealed class ServiceBusBusConformanceTests : BusConformanceTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly FakeServiceBus _fake;

    public ServiceBusBusConformanceTests()
    {
        _fake = new FakeServiceBus(_time) { Latency = TimeSpan.FromMilliseconds(5) };
    }

    protected override TimeProvider Time => _time;

    /// <summary>The entity LockDuration, the fixed lease of every delivery. It must exceed the suite's longest profile
    /// lease (ShortLease * 5 = 10 s) so a lease never runs out between heartbeats; 60 s leaves room for the suite's
    /// TimeDriver, which moves the manual clock faster than real time while a test waits.</summary>
    private static TimeSpan LockDuration => TimeSpan.FromSeconds(60);

    protected override void AddServices(IServiceCollection services)
    {
        services.AddSingleton<ServiceBusClient>(new FakeServiceBusClient(_fake));
        services.AddSingleton<ServiceBusAdministrationClient>(new FakeServiceBusAdministrationClient(_fake));
    }

    protected override void UseTransport(BusConfiguration bus) =>
        bus.UseAzureServiceBus(o =>
        {
            o.LockDuration = LockDuration;
            o.ReceiveTimeout = TimeSpan.FromSeconds(1);
            o.PriorityQueue = true; // the whole suite runs with priority queues
        });
}

using Bus.Conformance;
using Bus.Hosting;
using Bus.Testing;
using Bus.Transports.InMemory;

namespace Bus.Tests.Conformance;

public sealed class InMemoryBusConformanceTests : BusConformanceTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly InMemoryBroker _broker;

    public InMemoryBusConformanceTests()
    {
        _broker = new InMemoryBroker(_time);
    }

    protected override TimeProvider Time => _time;

    protected override void UseTransport(BusConfiguration bus) => bus.UseInMemoryTransport(_broker);
}

using Bus.Conformance;
using Bus.Testing;
using Bus.Transports;
using Bus.Transports.InMemory;

namespace Bus.Tests.Transports;

public sealed class InMemoryTransportContractTests : TransportContractTests
{
    private readonly ManualTimeProvider _time = new();

    protected override TimeProvider Time => _time;

    protected override Task<ITransport> CreateTransportAsync() =>
        Task.FromResult<ITransport>(new InMemoryTransport(new InMemoryBroker(_time), new InMemoryTransportOptions { MaxMessageSize = 64 * 1024 }));
}

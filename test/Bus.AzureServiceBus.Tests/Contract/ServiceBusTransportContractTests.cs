using Bus.AzureServiceBus.Tests.Fake;
using Bus.Conformance;
using Bus.Testing;
using Bus.Transports;

namespace Bus.AzureServiceBus.Tests.Contract;

/// <summary>The transport contract against the SDK-seam fake, on the manual clock. The entity LockDuration (10 s) is the
/// lease every receive gets: long enough for the renewal checks, short enough to expire within the suite's patience.
/// Priority queues are on, so the whole contract runs with them.</summary>
public sealed class ServiceBusTransportContractTests : TransportContractTests
{
    private readonly ManualTimeProvider _time = new();

    protected override TimeProvider Time => _time;

    protected override Task<ITransport> CreateTransportAsync() =>
        Task.FromResult<ITransport>(FakeTransports.Create(new FakeServiceBus(_time) { Latency = TimeSpan.FromMilliseconds(5) }, _time, o => o.PriorityQueue = true));
}

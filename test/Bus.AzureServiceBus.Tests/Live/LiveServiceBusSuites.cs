using Bus.Conformance;
using Bus.Hosting;
using Bus.Transports;

namespace Bus.AzureServiceBus.Tests.Live;

/// <summary>The transport contract against a real namespace (skipped without <c>BUS_ASB_CONNECTION_STRING</c>). Each test
/// uses its own entity prefix; its entities are deleted afterwards. The lock is 10 s, so leases expire within the suite's
/// patience.</summary>
[LiveServiceBusSuite]
public sealed class LiveServiceBusContractTests : TransportContractTests
{
    private readonly LiveNamespace _namespace = new();

    protected override TimeProvider Time => TimeProvider.System;

    protected override TimeSpan Patience => TimeSpan.FromSeconds(30);

    protected override Task<ITransport> CreateTransportAsync() =>
        Task.FromResult<ITransport>(new ServiceBusTransport(new ServiceBusTransportOptions
        {
            ConnectionString = LiveNamespace.ConnectionString,
            EntityPrefix = _namespace.Prefix,
            LockDuration = TimeSpan.FromSeconds(10),
            ReceiveTimeout = TimeSpan.FromSeconds(5),
        }));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _namespace.DeleteEntitiesAsync();
    }
}

/// <summary>The bus conformance suite against a real namespace (skipped without <c>BUS_ASB_CONNECTION_STRING</c>).</summary>
[LiveServiceBusSuite]
public sealed class LiveServiceBusConformanceTests : BusConformanceTests
{
    private readonly LiveNamespace _namespace = new();

    protected override TimeProvider Time => TimeProvider.System;

    protected override TimeSpan Patience => TimeSpan.FromSeconds(90);

    protected override void UseTransport(BusConfiguration bus) =>
        bus.UseAzureServiceBus(o =>
        {
            o.ConnectionString = LiveNamespace.ConnectionString;
            o.EntityPrefix = _namespace.Prefix;
            o.LockDuration = TimeSpan.FromSeconds(30);
            o.ReceiveTimeout = TimeSpan.FromSeconds(5);
        });

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _namespace.DeleteEntitiesAsync();
    }
}

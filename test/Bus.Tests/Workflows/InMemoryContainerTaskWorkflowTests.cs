using Bus.Conformance.ContainerTasks;
using Bus.Hosting;
using Bus.Testing;
using Bus.Transports.InMemory;

namespace Bus.Tests.Workflows;

/// <summary>The container-task workflow suite on the in-memory transport with a manual clock.</summary>
public sealed class InMemoryContainerTaskWorkflowTests : ContainerTaskWorkflowTests
{
    private readonly ManualTimeProvider _time = new();

    protected override TimeProvider CreateTime() => _time;

    protected override void UseTransport(BusConfiguration bus) => bus.UseInMemoryTransport(new InMemoryBroker(_time));
}

using Bus.Conformance.ContainerTasks;
using Bus.Hosting;

namespace Bus.AmazonSqs.Tests;

/// <summary>The container-task workflow suite over SQS (fauxqs), with the system clock: raw ECS events go to the
/// endpoint's queue as EventBridge sends them.</summary>
public sealed class SqsContainerTaskWorkflowTests : ContainerTaskWorkflowTests
{
    protected override TimeProvider CreateTime() => TimeProvider.System;

    protected override void UseTransport(BusConfiguration bus) => bus.UseAmazonSqs(o => Fauxqs.Configure(o));
}

using Bus.Conformance.Workflows;
using Bus.Hosting;

namespace Bus.DynamoDb.Tests;

/// <summary>The workflow behaviour suite with workflow instances and steps in DynamoDB (dynalite).</summary>
public sealed class DynamoDbWorkflowTests : WorkflowBehaviourTests
{
    private readonly string _prefix = Dynalite.UniquePrefix("behave");

    protected override void ConfigureStores(BusConfiguration bus)
    {
        bus.UseDynamoDbWorkflowStore(o => Dynalite.Configure(o, _prefix));
        bus.UseDynamoDbStepStore(o => Dynalite.Configure(o, _prefix));
    }
}

using Bus.Conformance.Workflows;
using Bus.Hosting;

namespace Bus.AzureTables.Tests;

/// <summary>The workflow behaviour suite with workflow instances and steps in Azure Table storage (azurite).</summary>
public sealed class AzureTablesWorkflowTests : WorkflowBehaviourTests
{
    private readonly string _prefix = Azurite.UniquePrefix("behave");

    protected override void ConfigureStores(BusConfiguration bus)
    {
        bus.UseAzureTablesWorkflowStore(o => { o.ConnectionString = Azurite.ConnectionString; o.TableNamePrefix = _prefix; });
        bus.UseAzureTablesStepStore(o => { o.ConnectionString = Azurite.ConnectionString; o.TableNamePrefix = _prefix; });
    }
}

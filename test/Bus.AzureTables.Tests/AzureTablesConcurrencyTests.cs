using Bus.Conformance;
using Bus.Workflows;

namespace Bus.AzureTables.Tests;

/// <summary>Two stores on separate clients stand for two hosts.</summary>
public sealed class AzureTablesConcurrencyTests : WorkflowStoreTwoHostsTests
{
    private readonly string _prefix = Azurite.UniquePrefix("conc");

    protected override IWorkflowStore StoreOfHost(int host) => new AzureTablesWorkflowStore(Azurite.Client(), Azurite.Options(_prefix));
}

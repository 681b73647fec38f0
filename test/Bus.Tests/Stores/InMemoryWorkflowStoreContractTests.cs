using Bus.Conformance;
using Bus.Workflows;

namespace Bus.Tests.Stores;

public sealed class InMemoryWorkflowStoreContractTests : WorkflowStoreContractTests
{
    protected override IWorkflowStore CreateStore() => new InMemoryWorkflowStore();
}

using Bus.Conformance.Workflows;

namespace Bus.Tests.Workflows;

/// <summary>The workflow behaviour suite on the in-memory workflow store.</summary>
public sealed class InMemoryWorkflowTests : WorkflowBehaviourTests;

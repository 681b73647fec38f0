using Bus.Conformance;
using Bus.Steps;

namespace Bus.Tests.Stores;

public sealed class InMemoryStepStoreContractTests : StepStoreContractTests
{
    protected override IStepStore CreateStore(TimeProvider time) => new InMemoryStepStore(time);
}

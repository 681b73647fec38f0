using Bus.Conformance;
using Bus.Jobs;

namespace Bus.Tests.Stores;

public sealed class InMemoryJobStatusStoreContractTests : JobStatusStoreContractTests
{
    private readonly InMemoryJobStatusStore _shared = new();

    protected override IJobStatusStore CreateStore() => _shared;
}

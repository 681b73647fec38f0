using Bus.Conformance;
using Bus.Schedules;

namespace Bus.Tests.Stores;

public sealed class InMemoryScheduleStoreContractTests : ScheduleStoreContractTests
{
    private readonly InMemoryScheduleStore _shared = new();

    protected override IScheduleStore CreateStore() => _shared;
}

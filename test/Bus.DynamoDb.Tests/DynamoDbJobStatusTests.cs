using Bus.Conformance;
using Bus.Hosting;

namespace Bus.DynamoDb.Tests;

/// <summary>Two hosts share one DynamoDB job status store (dynalite).</summary>
public sealed class DynamoDbJobStatusTests : JobStatusSharingTests
{
    private readonly string _prefix = Dynalite.UniquePrefix("jobhost");

    protected override Type StoreType => typeof(DynamoDbJobStatusStore);

    protected override void UseJobStatusStore(BusConfiguration bus) =>
        bus.UseDynamoDbJobStatusStore(o => Dynalite.Configure(o, _prefix));
}

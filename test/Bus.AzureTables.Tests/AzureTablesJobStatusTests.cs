using Bus.Conformance;
using Bus.Hosting;

namespace Bus.AzureTables.Tests;

/// <summary>Two hosts share one Azure Tables job status store (azurite).</summary>
public sealed class AzureTablesJobStatusTests : JobStatusSharingTests
{
    private readonly string _prefix = Azurite.UniquePrefix("jobhost");

    protected override Type StoreType => typeof(AzureTablesJobStatusStore);

    protected override void UseJobStatusStore(BusConfiguration bus) =>
        bus.UseAzureTablesJobStatusStore(o =>
        {
            o.ConnectionString = Azurite.ConnectionString;
            o.TableNamePrefix = _prefix;
        });
}

using Azure.Data.Tables;
using Bus.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bus.AzureTables.Tests;

public sealed class AzureTablesProvisioningTests
{
    private readonly TableServiceClient _client = Azurite.Client();

    [Fact]
    public async Task Verify_only_names_the_missing_table_and_what_to_do()
    {
        var prefix = Azurite.UniquePrefix("verify");
        var store = new AzureTablesStepStore(_client, Azurite.Options(prefix, o => o.Provisioning = AzureTablesProvisioning.VerifyOnly));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.GetAsync("job", "step", default));

        Assert.Contains($"table '{prefix}Steps'", error.Message, StringComparison.Ordinal);
        Assert.Contains("CreateIfMissing", error.Message, StringComparison.Ordinal);
        Assert.False(await TableExistsAsync(prefix + "Steps"));
    }

    [Fact]
    public async Task Verify_only_names_the_missing_jobs_table()
    {
        var prefix = Azurite.UniquePrefix("verify");
        var store = new AzureTablesJobStatusStore(_client, Azurite.Options(prefix, o => o.Provisioning = AzureTablesProvisioning.VerifyOnly));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.GetAsync("job-1", default));

        Assert.Contains($"table '{prefix}Jobs'", error.Message, StringComparison.Ordinal);
        Assert.Contains("CreateIfMissing", error.Message, StringComparison.Ordinal);
        Assert.False(await TableExistsAsync(prefix + "Jobs"));
    }

    [Fact]
    public async Task Verify_only_passes_once_the_tables_exist()
    {
        var prefix = Azurite.UniquePrefix("verify");
        await new AzureTablesWorkflowStore(_client, Azurite.Options(prefix)).EnsureTableAsync(default);
        await new AzureTablesStepStore(_client, Azurite.Options(prefix)).EnsureTableAsync(default);
        await new AzureTablesJobStatusStore(_client, Azurite.Options(prefix)).EnsureTableAsync(default);

        var workflows = new AzureTablesWorkflowStore(_client, Azurite.Options(prefix, o => o.Provisioning = AzureTablesProvisioning.VerifyOnly));
        var steps = new AzureTablesStepStore(_client, Azurite.Options(prefix, o => o.Provisioning = AzureTablesProvisioning.VerifyOnly));
        var jobs = new AzureTablesJobStatusStore(_client, Azurite.Options(prefix, o => o.Provisioning = AzureTablesProvisioning.VerifyOnly));

        Assert.Null(await workflows.GetAsync("w", "1", default));
        Assert.Empty(await steps.ListAsync("job", default));
        Assert.Empty(await jobs.ListAsync(Bus.Jobs.JobState.Running, 10, default));
    }

    [Fact]
    public async Task Host_start_fails_with_one_error_listing_every_missing_table()
    {
        var prefix = Azurite.UniquePrefix("host");
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddBus(bus =>
        {
            bus.EndpointName = "tables-verify";
            bus.UseInMemoryTransport();
            bus.UseAzureTablesWorkflowStore(o => Verify(Azurite.Options(prefix), o));
            bus.UseAzureTablesStepStore(o => Verify(Azurite.Options(prefix), o));
            bus.UseAzureTablesJobStatusStore(o => Verify(Azurite.Options(prefix), o));
        });
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Contains($"table '{prefix}Workflows'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"table '{prefix}Steps'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"table '{prefix}Jobs'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Host_start_creates_missing_tables_with_the_registered_client()
    {
        var prefix = Azurite.UniquePrefix("create");
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(_client);
        builder.Services.AddBus(bus =>
        {
            bus.EndpointName = "tables-create";
            bus.UseInMemoryTransport();
            bus.UseAzureTablesWorkflowStore(o => o.TableNamePrefix = prefix);
            bus.UseAzureTablesStepStore(o => o.TableNamePrefix = prefix);
            bus.UseAzureTablesJobStatusStore(o => o.TableNamePrefix = prefix);
        });
        using var host = builder.Build();

        await host.StartAsync();
        await host.StopAsync();

        Assert.True(await TableExistsAsync(prefix + "Workflows"));
        Assert.True(await TableExistsAsync(prefix + "Steps"));
        Assert.True(await TableExistsAsync(prefix + "Jobs"));
    }

    private static void Verify(AzureTablesStoreOptions from, AzureTablesStoreOptions to)
    {
        to.ConnectionString = from.ConnectionString;
        to.TableNamePrefix = from.TableNamePrefix;
        to.Provisioning = AzureTablesProvisioning.VerifyOnly;
    }

    private async Task<bool> TableExistsAsync(string name)
    {
        await foreach (var table in _client.QueryAsync(t => t.Name == name))
        {
            return true;
        }

        return false;
    }
}

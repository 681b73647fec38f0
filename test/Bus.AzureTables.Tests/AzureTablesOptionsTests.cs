using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Bus.AzureTables.Connection;
using Bus.AzureTables.Entities;
using Bus.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.AzureTables.Tests;

public sealed class AzureTablesOptionsTests
{
    public static TheoryData<string, Action<AzureTablesStoreOptions>, string> Invalid => new()
    {
        { "ConnectionString", o => { o.ConnectionString = "UseDevelopmentStorage=true"; o.Endpoint = new Uri("https://a.table.core.windows.net/"); }, "not both" },
        { "ConnectionString", o => o.ConnectionString = " ", "is empty" },
        { "Endpoint", o => o.Endpoint = new Uri("ftp://a/"), "must be an absolute https URL" },
        { "Credential", o => { o.ConnectionString = "UseDevelopmentStorage=true"; o.Credential = new DefaultAzureCredential(); }, "needs Endpoint" },
        { "TableNamePrefix", o => { o.ConnectionString = "UseDevelopmentStorage=true"; o.TableNamePrefix = "1bad-prefix"; }, "letters and digits starting with a letter" },
        { "Provisioning", o => { o.ConnectionString = "UseDevelopmentStorage=true"; o.Provisioning = (AzureTablesProvisioning)9; }, "must be CreateIfMissing or VerifyOnly" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Invalid_options_are_refused_at_configuration_with_what_to_do(string property, Action<AzureTablesStoreOptions> configure, string says)
    {
        var services = new ServiceCollection();

        var workflows = Assert.ThrowsAny<ArgumentException>(() => services.AddBus(bus => bus.UseAzureTablesWorkflowStore(configure)));
        var steps = Assert.ThrowsAny<ArgumentException>(() => services.AddBus(bus => bus.UseAzureTablesStepStore(configure)));
        var jobs = Assert.ThrowsAny<ArgumentException>(() => services.AddBus(bus => bus.UseAzureTablesJobStatusStore(configure)));

        Assert.Equal(property, workflows.ParamName);
        Assert.Contains(says, workflows.Message, StringComparison.Ordinal);
        Assert.Contains(says, steps.Message, StringComparison.Ordinal);
        Assert.Equal(property, jobs.ParamName);
        Assert.Contains(says, jobs.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void No_account_at_all_is_refused_when_the_store_is_built_saying_what_to_set()
    {
        var services = new ServiceCollection();
        services.AddBus(bus =>
        {
            bus.EndpointName = "tables-no-account";
            bus.UseInMemoryTransport();
            bus.UseAzureTablesStepStore(_ => { });
        });
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<ArgumentException>(() => provider.GetRequiredService<Bus.Steps.IStepStore>());

        Assert.Contains("set ConnectionString, or Endpoint", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Clients_come_from_the_options_then_dependency_injection_then_the_settings()
    {
        var mine = Azurite.Client();
        var registered = Azurite.Client();
        using var provider = new ServiceCollection().AddSingleton(registered).BuildServiceProvider();

        Assert.Same(mine, TableServiceClientFactory.Create(new AzureTablesStoreOptions { Client = mine }, provider));
        Assert.Same(registered, TableServiceClientFactory.Create(new AzureTablesStoreOptions(), provider));
        var fromEndpoint = TableServiceClientFactory.Create(
            new AzureTablesStoreOptions { Endpoint = new Uri("https://account.table.core.windows.net/"), Credential = new FixedToken() }, null);
        Assert.Equal("account", fromEndpoint.AccountName);
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("a/b\\c#d?e%f")]
    [InlineData("tab\there\u0001\u007f\u0085")]
    [InlineData("%2F")]
    public void Keys_encode_forbidden_characters_and_decode_back(string value)
    {
        var encoded = KeyEncoding.Encode(value);

        Assert.DoesNotContain(encoded, c => c is '/' or '\\' or '#' or '?' || char.IsControl(c));
        Assert.Equal(value, KeyEncoding.Decode(encoded));
    }

    [Fact]
    public void Defaults_name_the_tables()
    {
        var options = new AzureTablesStoreOptions { ConnectionString = "UseDevelopmentStorage=true" };

        options.Validate();

        Assert.Equal("BusWorkflows", options.WorkflowTableName);
        Assert.Equal("BusSteps", options.StepTableName);
        Assert.Equal("BusJobs", options.JobTableName);
    }

    private sealed class FixedToken : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            new("token", DateTimeOffset.MaxValue);

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}

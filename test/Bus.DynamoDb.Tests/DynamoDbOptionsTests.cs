using Amazon.DynamoDBv2;
using Bus.DynamoDb.Connection;
using Bus.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.DynamoDb.Tests;

public sealed class DynamoDbOptionsTests
{
    public static TheoryData<string, Action<DynamoDbStoreOptions>, string> Invalid => new()
    {
        { "Region", o => o.Region = "EU West", "is not a region name like 'eu-west-1'" },
        { "ServiceUrl", o => o.ServiceUrl = new Uri("ftp://127.0.0.1/"), "must be an absolute http or https URL" },
        { "AccessKeyId", o => o.AccessKeyId = "key", "must be set together" },
        { "SessionToken", o => o.SessionToken = "token", "needs AccessKeyId and SecretAccessKey" },
        { "TableNamePrefix", o => o.TableNamePrefix = "bad prefix!", "may hold at most 200 letters, digits" },
        { "Provisioning", o => o.Provisioning = (DynamoDbProvisioning)7, "must be CreateIfMissing or VerifyOnly" },
        { "StepTimeToLive", o => o.StepTimeToLive = TimeSpan.FromMinutes(5), "must be at least 1 hour" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Invalid_options_are_refused_at_configuration_with_what_to_do(string property, Action<DynamoDbStoreOptions> configure, string says)
    {
        var services = new ServiceCollection();

        var workflows = Assert.ThrowsAny<ArgumentException>(() => services.AddBus(bus => bus.UseDynamoDbWorkflowStore(configure)));
        var steps = Assert.ThrowsAny<ArgumentException>(() => services.AddBus(bus => bus.UseDynamoDbStepStore(configure)));
        var jobs = Assert.ThrowsAny<ArgumentException>(() => services.AddBus(bus => bus.UseDynamoDbJobStatusStore(configure)));

        Assert.Equal(property, workflows.ParamName);
        Assert.Contains(says, workflows.Message, StringComparison.Ordinal);
        Assert.Contains(says, steps.Message, StringComparison.Ordinal);
        Assert.Equal(property, jobs.ParamName);
        Assert.Contains(says, jobs.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Defaults_are_valid_and_name_the_tables()
    {
        var options = new DynamoDbStoreOptions();

        options.Validate();

        Assert.Equal("bus-workflows", options.WorkflowTableName);
        Assert.Equal("bus-steps", options.StepTableName);
        Assert.Equal("bus-jobs", options.JobTableName);
        Assert.Equal(DynamoDbProvisioning.CreateIfMissing, options.Provisioning);
    }

    [Fact]
    public void A_client_in_the_options_wins_over_one_in_dependency_injection_and_is_not_owned()
    {
        using var mine = Dynalite.Client();
        using var registered = Dynalite.Client();
        using var provider = new ServiceCollection().AddSingleton(registered).BuildServiceProvider();

        var (fromOptions, ownsOptions) = DynamoDbClientFactory.Create(new DynamoDbStoreOptions { Client = mine }, provider);
        var (fromServices, ownsServices) = DynamoDbClientFactory.Create(new DynamoDbStoreOptions(), provider);

        Assert.Same(mine, fromOptions);
        Assert.False(ownsOptions);
        Assert.Same(registered, fromServices);
        Assert.False(ownsServices);
    }

    [Fact]
    public void Without_a_client_one_is_built_from_the_options()
    {
        var (client, owned) = DynamoDbClientFactory.Create(Dynalite.Options("built-"), services: null);
        using var _ = client;

        Assert.True(owned);
        Assert.StartsWith(Dynalite.Endpoint.ToString(), ((AmazonDynamoDBClient)client).Config.ServiceURL, StringComparison.Ordinal);
        Assert.Equal("us-east-1", client.Config.AuthenticationRegion);
    }

    [Fact]
    public async Task UseDynamoDb_stores_are_registered_and_share_the_registered_client()
    {
        using var client = Dynalite.Client();
        var prefix = Dynalite.UniquePrefix("di");
        var services = new ServiceCollection();
        services.AddSingleton<IAmazonDynamoDB>(client);
        services.AddBus(bus =>
        {
            bus.EndpointName = "dynamodb-di";
            bus.UseInMemoryTransport();
            bus.UseDynamoDbWorkflowStore(o => o.TableNamePrefix = prefix)
                .UseDynamoDbStepStore(o => o.TableNamePrefix = prefix)
                .UseDynamoDbJobStatusStore(o => o.TableNamePrefix = prefix);
        });
        await using var provider = services.BuildServiceProvider();

        var steps = Assert.IsType<DynamoDbStepStore>(provider.GetRequiredService<Bus.Steps.IStepStore>());
        var workflows = Assert.IsType<DynamoDbWorkflowStore>(provider.GetRequiredService<Bus.Workflows.IWorkflowStore>());
        var jobs = Assert.IsType<DynamoDbJobStatusStore>(provider.GetRequiredService<Bus.Jobs.IJobStatusStore>());
        await steps.SaveAsync("job", "step", "1", default);

        Assert.Equal(prefix + "steps", steps.TableName);
        Assert.Equal(prefix + "jobs", jobs.TableName);
        Assert.Equal(prefix + "workflows", workflows.TableName);
        Assert.Equal("1", await new DynamoDbStepStore(client, Dynalite.Options(prefix)).GetAsync("job", "step", default));
    }
}

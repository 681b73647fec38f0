using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Bus.Hosting;
using Bus.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bus.DynamoDb.Tests;

public sealed class DynamoDbProvisioningTests : IDisposable
{
    private readonly IAmazonDynamoDB _client = Dynalite.Client();

    [Fact]
    public async Task Verify_only_names_the_missing_table_and_what_to_do()
    {
        var prefix = Dynalite.UniquePrefix("verify");
        var store = new DynamoDbWorkflowStore(_client, Dynalite.Options(prefix, o => o.Provisioning = DynamoDbProvisioning.VerifyOnly));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.GetAsync("w", "1", default));

        Assert.Contains($"table '{prefix}workflows'", error.Message, StringComparison.Ordinal);
        Assert.Contains("CreateIfMissing", error.Message, StringComparison.Ordinal);
        Assert.False(await TableExistsAsync(prefix + "workflows"));
    }

    [Fact]
    public async Task Verify_only_names_the_missing_jobs_table_and_its_index()
    {
        var prefix = Dynalite.UniquePrefix("verify");
        var store = new DynamoDbJobStatusStore(_client, Dynalite.Options(prefix, o => o.Provisioning = DynamoDbProvisioning.VerifyOnly));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.GetAsync("job-1", default));

        Assert.Contains($"table '{prefix}jobs' (partition key 'pk' string)", error.Message, StringComparison.Ordinal);
        Assert.Contains($"global secondary index 'state-updatedAt' of table '{prefix}jobs'", error.Message, StringComparison.Ordinal);
        Assert.Contains("CreateIfMissing", error.Message, StringComparison.Ordinal);
        Assert.False(await TableExistsAsync(prefix + "jobs"));
    }

    [Fact]
    public async Task A_jobs_table_without_the_state_index_is_reported_and_left_alone()
    {
        var prefix = Dynalite.UniquePrefix("noindex");
        await _client.CreateTableAsync(new CreateTableRequest
        {
            TableName = prefix + "jobs",
            BillingMode = BillingMode.PAY_PER_REQUEST,
            KeySchema = [new KeySchemaElement("pk", KeyType.HASH)],
            AttributeDefinitions = [new AttributeDefinition("pk", ScalarAttributeType.S)],
        });
        var store = new DynamoDbJobStatusStore(_client, Dynalite.Options(prefix));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.ListAsync(JobState.Running, 10, default));

        Assert.Contains($"global secondary index 'state-updatedAt' of table '{prefix}jobs'", error.Message, StringComparison.Ordinal);
        Assert.Contains("add it to the table", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("(partition key 'pk' string)", error.Message, StringComparison.Ordinal);
        Assert.Null((await _client.DescribeTableAsync(prefix + "jobs")).Table.GlobalSecondaryIndexes?.FirstOrDefault());
    }

    [Fact]
    public async Task Verify_only_passes_once_the_tables_exist()
    {
        var prefix = Dynalite.UniquePrefix("verify");
        await new DynamoDbWorkflowStore(_client, Dynalite.Options(prefix)).EnsureTableAsync(default);
        await new DynamoDbStepStore(_client, Dynalite.Options(prefix)).EnsureTableAsync(default);
        await new DynamoDbJobStatusStore(_client, Dynalite.Options(prefix)).EnsureTableAsync(default);

        var workflows = new DynamoDbWorkflowStore(_client, Dynalite.Options(prefix, o => o.Provisioning = DynamoDbProvisioning.VerifyOnly));
        var steps = new DynamoDbStepStore(_client, Dynalite.Options(prefix, o => o.Provisioning = DynamoDbProvisioning.VerifyOnly));
        var jobs = new DynamoDbJobStatusStore(_client, Dynalite.Options(prefix, o => o.Provisioning = DynamoDbProvisioning.VerifyOnly));

        Assert.Null(await workflows.GetAsync("w", "1", default));
        Assert.Empty(await steps.ListAsync("job", default));
        Assert.Empty(await jobs.ListAsync(JobState.Running, 10, default));
    }

    [Fact]
    public async Task Verify_only_lists_a_missing_time_to_live()
    {
        var prefix = Dynalite.UniquePrefix("ttl");
        await new DynamoDbStepStore(_client, Dynalite.Options(prefix)).EnsureTableAsync(default); // table without TTL
        var store = new DynamoDbStepStore(_client, Dynalite.Options(prefix, o =>
        {
            o.Provisioning = DynamoDbProvisioning.VerifyOnly;
            o.StepTimeToLive = TimeSpan.FromDays(30);
        }));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.EnsureTableAsync(default));

        Assert.Contains($"time to live on attribute 'expiresAt' of table '{prefix}steps'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("(partition key", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_table_with_other_keys_is_reported_and_left_alone()
    {
        var prefix = Dynalite.UniquePrefix("keys");
        await _client.CreateTableAsync(new CreateTableRequest
        {
            TableName = prefix + "steps",
            BillingMode = BillingMode.PAY_PER_REQUEST,
            KeySchema = [new KeySchemaElement("id", KeyType.HASH)],
            AttributeDefinitions = [new AttributeDefinition("id", ScalarAttributeType.S)],
        });
        var store = new DynamoDbStepStore(_client, Dynalite.Options(prefix));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.SaveAsync("job", "step", "1", default));

        Assert.Contains("other keys (HASH 'id')", error.Message, StringComparison.Ordinal);
        Assert.Contains("use another TableNamePrefix", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Host_start_fails_with_one_error_listing_every_missing_table()
    {
        var prefix = Dynalite.UniquePrefix("host");
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(_client);
        builder.Services.AddBus(bus =>
        {
            bus.EndpointName = "dynamodb-verify";
            bus.UseInMemoryTransport();
            bus.UseDynamoDbWorkflowStore(o => { o.TableNamePrefix = prefix; o.Provisioning = DynamoDbProvisioning.VerifyOnly; });
            bus.UseDynamoDbStepStore(o => { o.TableNamePrefix = prefix; o.Provisioning = DynamoDbProvisioning.VerifyOnly; });
            bus.UseDynamoDbJobStatusStore(o => { o.TableNamePrefix = prefix; o.Provisioning = DynamoDbProvisioning.VerifyOnly; });
        });
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Contains($"table '{prefix}workflows'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"table '{prefix}steps'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"table '{prefix}jobs'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Host_start_creates_missing_tables()
    {
        var prefix = Dynalite.UniquePrefix("create");
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(_client);
        builder.Services.AddBus(bus =>
        {
            bus.EndpointName = "dynamodb-create";
            bus.UseInMemoryTransport();
            bus.UseDynamoDbWorkflowStore(o => o.TableNamePrefix = prefix);
            bus.UseDynamoDbStepStore(o => o.TableNamePrefix = prefix);
            bus.UseDynamoDbJobStatusStore(o => o.TableNamePrefix = prefix);
        });
        using var host = builder.Build();

        await host.StartAsync();
        await host.StopAsync();

        Assert.True(await TableExistsAsync(prefix + "workflows"));
        Assert.True(await TableExistsAsync(prefix + "steps"));
        var jobs = (await _client.DescribeTableAsync(prefix + "jobs")).Table;
        Assert.Equal("state-updatedAt", Assert.Single(jobs.GlobalSecondaryIndexes).IndexName);
    }

    [Fact]
    public async Task Step_items_carry_the_time_to_live_attribute_when_asked()
    {
        var prefix = Dynalite.UniquePrefix("ttlitem");
        await new DynamoDbStepStore(_client, Dynalite.Options(prefix)).EnsureTableAsync(default);
        var table = new Steps.StepTable(_client, prefix + "steps");
        var at = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
        var expires = (at + TimeSpan.FromDays(30)).ToUnixTimeSeconds();

        var sequence = await table.NextSequenceAsync("job-ttl", at, expires, default);
        await table.PutStepIfAbsentAsync("job-ttl", "a", "1", sequence, at, expires, default);

        var item = await _client.GetItemAsync(prefix + "steps", new() { ["pk"] = new("job-ttl"), ["sk"] = new("step|a") });
        Assert.Equal(expires.ToString(System.Globalization.CultureInfo.InvariantCulture), item.Item["expiresAt"].N);
        var job = await _client.GetItemAsync(prefix + "steps", new() { ["pk"] = new("job-ttl"), ["sk"] = new("job") });
        Assert.Equal(expires.ToString(System.Globalization.CultureInfo.InvariantCulture), job.Item["expiresAt"].N);
    }

    public void Dispose() => _client.Dispose();

    private async Task<bool> TableExistsAsync(string name)
    {
        try
        {
            await _client.DescribeTableAsync(name);
            return true;
        }
        catch (ResourceNotFoundException)
        {
            return false;
        }
    }
}

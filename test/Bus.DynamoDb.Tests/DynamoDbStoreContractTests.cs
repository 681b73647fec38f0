using Amazon.DynamoDBv2;
using Bus.Conformance;
using Bus.Hosting;
using Bus.Jobs;
using Bus.Steps;
using Bus.Workflows;

namespace Bus.DynamoDb.Tests;

public sealed class DynamoDbStepStoreContractTests : StepStoreContractTests, IDisposable
{
    // One table per test class instance: retention scans see only this test's jobs.
    private readonly IAmazonDynamoDB _client = Dynalite.Client();
    private readonly string _prefix = Dynalite.UniquePrefix("steps");

    protected override IStepStore CreateStore(TimeProvider time) => new DynamoDbStepStore(_client, Dynalite.Options(_prefix), time);

    [Fact]
    public async Task Two_stores_on_one_table_share_steps_and_the_first_result_wins()
    {
        var job = NewJobId();
        var one = CreateStore();
        using var otherClient = Dynalite.Client();
        var two = new DynamoDbStepStore(otherClient, Dynalite.Options(_prefix), Clock);

        await one.SaveAsync(job, "charge", "\"one\"", default);
        await two.SaveAsync(job, "charge", "\"two\"", default);

        Assert.Equal("\"one\"", await two.GetAsync(job, "charge", default));
        Assert.Equal(["charge"], await two.ListAsync(job, default));
    }

    public void Dispose() => _client.Dispose();
}

public sealed class DynamoDbWorkflowStoreContractTests : WorkflowStoreContractTests, IDisposable
{
    private readonly IAmazonDynamoDB _client = Dynalite.Client();
    private readonly string _prefix = Dynalite.UniquePrefix("wf");

    protected override IWorkflowStore CreateStore() => new DynamoDbWorkflowStore(_client, Dynalite.Options(_prefix));

    public void Dispose() => _client.Dispose();
}

public sealed class DynamoDbJobStatusStoreContractTests : JobStatusStoreContractTests, IDisposable
{
    private readonly string _prefix = Dynalite.UniquePrefix("jobs");
    private readonly List<IAmazonDynamoDB> _clients = [];

    /// <summary>Each store gets a client of its own, as another host would.</summary>
    protected override IJobStatusStore CreateStore()
    {
        var client = Dynalite.Client();
        _clients.Add(client);
        return new DynamoDbJobStatusStore(client, Dynalite.Options(_prefix));
    }

    [Fact]
    public async Task A_result_too_large_for_an_item_is_refused_with_what_to_do()
    {
        var store = CreateStore();
        var result = "\"" + new string('x', DynamoDbJobStatusStore.MaxResultBytes) + "\"";

        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            store.SaveAsync(new JobStatus(NewJobId(), "tests.big", JobState.Running, 0, 1, 1, DateTimeOffset.UtcNow, result), default));

        Assert.Contains("400 KB", error.Message, StringComparison.Ordinal);
        Assert.Contains("Record a smaller result", error.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }
    }
}

public sealed class DynamoDbScheduleStoreContractTests : ScheduleStoreContractTests, IDisposable
{
    private readonly string _prefix = Dynalite.UniquePrefix("sched");
    private readonly List<IAmazonDynamoDB> _clients = [];

    /// <summary>Each store gets a client of its own, as another host would.</summary>
    protected override Schedules.IScheduleStore CreateStore()
    {
        var client = Dynalite.Client();
        _clients.Add(client);
        return new DynamoDbScheduleStore(client, Dynalite.Options(_prefix));
    }

    public void Dispose() => _clients.ForEach(c => c.Dispose());
}

/// <summary>Two buses on one DynamoDB table, each with a client of its own: each tick fires once and a pause holds for both.</summary>
public sealed class DynamoDbScheduleStoreTwoHostsTests : ScheduleStoreTwoHostsTests
{
    private readonly string _prefix = Dynalite.UniquePrefix("schedhost");

    protected override void UseScheduleStore(BusConfiguration bus) => bus.UseDynamoDbScheduleStore(o => Dynalite.Configure(o, _prefix));
}

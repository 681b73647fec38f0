using Amazon.DynamoDBv2;
using Bus.Conformance;
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

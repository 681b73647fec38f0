using Bus.Conformance;
using Bus.Steps;
using Bus.Workflows;

namespace Bus.AzureTables.Tests;

public sealed class AzureTablesStepStoreContractTests : StepStoreContractTests
{
    // One table per test class instance: retention sweeps see only this test's jobs.
    private readonly string _prefix = Azurite.UniquePrefix("steps");

    protected override IStepStore CreateStore(TimeProvider time) => new AzureTablesStepStore(Azurite.Client(), Azurite.Options(_prefix), time);

    [Fact]
    public async Task Two_stores_on_one_table_share_steps_and_the_first_result_wins()
    {
        var job = NewJobId();
        var one = CreateStore();
        var two = new AzureTablesStepStore(Azurite.Client(), Azurite.Options(_prefix), Clock);

        await one.SaveAsync(job, "charge", "\"one\"", default);
        await two.SaveAsync(job, "charge", "\"two\"", default);

        Assert.Equal("\"one\"", await two.GetAsync(job, "charge", default));
        Assert.Equal(["charge"], await two.ListAsync(job, default));
    }

    [Fact]
    public async Task Job_ids_and_step_names_with_characters_keys_forbid_round_trip()
    {
        var store = CreateStore();
        var job = "orders/2026#1?x\\y%" + Guid.NewGuid().ToString("N");

        await store.SaveAsync(job, "a/b#c?d\\e%f\tg", "\"odd\"", default);
        await store.SaveAsync(job, "plain", "\"plain\"", default);

        Assert.Equal("\"odd\"", await store.GetAsync(job, "a/b#c?d\\e%f\tg", default));
        Assert.Equal(["a/b#c?d\\e%f\tg", "plain"], await store.ListAsync(job, default));
    }
}

public sealed class AzureTablesWorkflowStoreContractTests : WorkflowStoreContractTests
{
    private readonly string _prefix = Azurite.UniquePrefix("wf");

    protected override IWorkflowStore CreateStore() => new AzureTablesWorkflowStore(Azurite.Client(), Azurite.Options(_prefix));

    [Fact]
    public async Task Large_state_round_trips()
    {
        var store = CreateStore();
        var name = NewWorkflowName() + "/with#odd?chars";
        var state = "{\"blob\":\"" + new string('é', 100_000) + "\"}";
        var instance = NewInstance(name, "big/1") with { StateJson = state };

        await store.InsertAsync(instance, default);

        AssertSame(instance, await store.FindAsync(name, "big/1", default));
    }
}

using Bus.Conformance;
using Bus.Hosting;
using Bus.Jobs;
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

public sealed class AzureTablesJobStatusStoreContractTests : JobStatusStoreContractTests
{
    private readonly string _prefix = Azurite.UniquePrefix("jobs");

    /// <summary>Each store gets a client of its own, as another host would.</summary>
    protected override IJobStatusStore CreateStore() => new AzureTablesJobStatusStore(Azurite.Client(), Azurite.Options(_prefix));

    [Fact]
    public async Task A_long_result_and_an_id_with_characters_keys_forbid_round_trip()
    {
        var id = "jobs/2026#1?x\\y%" + Guid.NewGuid().ToString("N");
        var status = new JobStatus(id, "tests.report", JobState.Completed, 3, 3, 1, DateTimeOffset.UtcNow, "{\"text\":\"" + new string('é', 100_000) + "\"}");

        await CreateStore().SaveAsync(status, default);

        Assert.Equal(status, await CreateStore().GetAsync(id, default));
        Assert.Contains(await CreateStore().ListAsync(JobState.Completed, 100, default), s => s == status);
    }

    [Fact]
    public async Task A_status_saved_without_a_result_after_one_with_it_has_none()
    {
        var store = CreateStore();
        var id = NewJobId();
        await store.SaveAsync(new JobStatus(id, "tests.report", JobState.Running, 1, 3, 1, DateTimeOffset.UtcNow, "\"partial\""), default);

        await store.SaveAsync(new JobStatus(id, "tests.report", JobState.Failed, 1, 3, 1, DateTimeOffset.UtcNow), default);

        Assert.Null((await store.GetAsync(id, default))!.ResultJson);
    }

    [Fact]
    public async Task A_result_too_long_for_an_entity_is_refused_with_what_to_do()
    {
        var result = "\"" + new string('x', AzureTablesJobStatusStore.MaxResultLength) + "\"";

        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            CreateStore().SaveAsync(new JobStatus(NewJobId(), "tests.big", JobState.Running, 0, 1, 1, DateTimeOffset.UtcNow, result), default));

        Assert.Contains("1 MiB", error.Message, StringComparison.Ordinal);
        Assert.Contains("Record a smaller result", error.Message, StringComparison.Ordinal);
    }
}

public sealed class AzureTablesScheduleStoreContractTests : ScheduleStoreContractTests
{
    private readonly string _prefix = Azurite.UniquePrefix("sched");

    /// <summary>Each store gets a client of its own, as another host would.</summary>
    protected override Schedules.IScheduleStore CreateStore() => new AzureTablesScheduleStore(Azurite.Client(), Azurite.Options(_prefix));
}

/// <summary>Two buses on one Azure table, each with a client of its own: each tick fires once and a pause holds for both.</summary>
public sealed class AzureTablesScheduleStoreTwoHostsTests : ScheduleStoreTwoHostsTests
{
    private readonly string _prefix = Azurite.UniquePrefix("schedhost");

    protected override void UseScheduleStore(BusConfiguration bus) => bus.UseAzureTablesScheduleStore(o =>
    {
        o.ConnectionString = Azurite.ConnectionString;
        o.TableNamePrefix = _prefix;
    });
}

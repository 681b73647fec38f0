using Bus.Steps;
using Xunit;

namespace Bus.Conformance;

/// <summary>
/// The contract every <see cref="IStepStore"/> honours. A store's test project subclasses this and supplies the store.
/// </summary>
public abstract class StepStoreContractTests
{
    /// <summary>The clock stores of a test record finished-at times on.</summary>
    protected Testing.ManualTimeProvider Clock { get; } = new();

    /// <summary>Creates the store under test on <paramref name="time"/>; called once per test. Stores of one test class
    /// may share data.</summary>
    protected abstract IStepStore CreateStore(TimeProvider time);

    /// <summary>Creates the store under test on <see cref="Clock"/>.</summary>
    protected IStepStore CreateStore() => CreateStore(Clock);

    [Fact]
    public async Task Retention_deletes_whole_jobs_whose_latest_step_is_older_than_the_cutoff()
    {
        var store = CreateStore();
        var finished = NewJobId();
        var running = NewJobId();
        var recent = NewJobId();
        await store.SaveAsync(finished, "a", "1", default);
        await store.SaveAsync(finished, "b", "2", default);
        await store.SaveAsync(running, "a", "1", default); // started long ago ...
        Clock.Advance(TimeSpan.FromDays(2));
        await store.SaveAsync(running, "b", "2", default); // ... and still finishing steps
        await store.SaveAsync(recent, "a", "1", default);

        var deleted = await store.DeleteJobsFinishedBeforeAsync(Clock.GetUtcNow() - TimeSpan.FromDays(1), default);

        Assert.Equal(2, deleted);
        Assert.Empty(await store.ListAsync(finished, default));
        Assert.Null(await store.GetAsync(finished, "a", default));
        Assert.Equal(["a", "b"], await store.ListAsync(running, default));
        Assert.Equal(["a"], await store.ListAsync(recent, default));
        Assert.Equal(0, await store.DeleteJobsFinishedBeforeAsync(Clock.GetUtcNow() - TimeSpan.FromDays(1), default));
    }

    /// <summary>A job id unique to this test.</summary>
    protected static string NewJobId() => $"job-{Guid.NewGuid():N}";

    [Fact]
    public async Task Unknown_step_and_unknown_job_are_empty()
    {
        var store = CreateStore();
        var job = NewJobId();

        Assert.Null(await store.GetAsync(job, "download", default));
        Assert.Empty(await store.ListAsync(job, default));
    }

    [Fact]
    public async Task Saved_step_result_is_returned()
    {
        var store = CreateStore();
        var job = NewJobId();

        await store.SaveAsync(job, "download", """{"file":"report-åäö.csv","rows":42}""", default);

        Assert.Equal("""{"file":"report-åäö.csv","rows":42}""", await store.GetAsync(job, "download", default));
        Assert.Null(await store.GetAsync(job, "upload", default));
    }

    [Fact]
    public async Task Saving_a_step_twice_keeps_the_first_result()
    {
        var store = CreateStore();
        var job = NewJobId();

        await store.SaveAsync(job, "charge", "\"first\"", default);
        await store.SaveAsync(job, "charge", "\"second\"", default);

        Assert.Equal("\"first\"", await store.GetAsync(job, "charge", default));
        Assert.Equal(["charge"], await store.ListAsync(job, default));
    }

    [Fact]
    public async Task List_returns_steps_in_the_order_they_finished()
    {
        var store = CreateStore();
        var job = NewJobId();

        await store.SaveAsync(job, "c-extract", "1", default);
        await store.SaveAsync(job, "a-transform", "2", default);
        await store.SaveAsync(job, "b-load", "3", default);
        await store.SaveAsync(job, "a-transform", "ignored", default);

        Assert.Equal(["c-extract", "a-transform", "b-load"], await store.ListAsync(job, default));
    }

    [Fact]
    public async Task Steps_belong_to_their_job_and_names_are_exact()
    {
        var store = CreateStore();
        var one = NewJobId();
        var two = NewJobId();

        await store.SaveAsync(one, "step", "\"one\"", default);
        await store.SaveAsync(two, "step", "\"two\"", default);
        await store.SaveAsync(two, "Step", "\"two-upper\"", default);

        Assert.Equal("\"one\"", await store.GetAsync(one, "step", default));
        Assert.Equal("\"two\"", await store.GetAsync(two, "step", default));
        Assert.Equal("\"two-upper\"", await store.GetAsync(two, "Step", default));
        Assert.Null(await store.GetAsync(one, "Step", default));
        Assert.Equal(["step"], await store.ListAsync(one, default));
        Assert.Equal(["step", "Step"], await store.ListAsync(two, default));
    }

    [Fact]
    public async Task Empty_and_large_results_round_trip()
    {
        var store = CreateStore();
        var job = NewJobId();
        var large = "\"" + new string('x', 200_000) + "\"";

        await store.SaveAsync(job, "empty", string.Empty, default);
        await store.SaveAsync(job, "large", large, default);

        Assert.Equal(string.Empty, await store.GetAsync(job, "empty", default));
        Assert.Equal(large, await store.GetAsync(job, "large", default));
    }

    [Fact]
    public async Task Racing_saves_of_one_step_keep_exactly_one_result()
    {
        var store = CreateStore();
        var job = NewJobId();

        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() => store.SaveAsync(job, "once", $"{i}", default))));

        var result = await store.GetAsync(job, "once", default);
        Assert.NotNull(result);
        Assert.InRange(int.Parse(result, System.Globalization.CultureInfo.InvariantCulture), 0, 19);
        Assert.Equal(["once"], await store.ListAsync(job, default));
        Assert.Equal(result, await store.GetAsync(job, "once", default));
    }

    [Fact]
    public async Task Invalid_arguments_are_rejected()
    {
        var store = CreateStore();

        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.GetAsync(string.Empty, "step", default));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.GetAsync("job", string.Empty, default));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.SaveAsync("job", "step", null!, default));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.ListAsync(string.Empty, default));
    }
}

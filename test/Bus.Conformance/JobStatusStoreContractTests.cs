using Bus.Jobs;
using Xunit;

namespace Bus.Conformance;

/// <summary>
/// The contract every <see cref="IJobStatusStore"/> honours. A store's test project subclasses this and supplies the
/// store; two stores made by one test must see the same data (two hosts sharing the store).
/// </summary>
public abstract class JobStatusStoreContractTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Creates the store under test; called once or twice per test, the stores sharing their data.</summary>
    protected abstract IJobStatusStore CreateStore();

    [Fact]
    public async Task A_saved_status_reads_back_whole_from_another_store_on_the_same_data()
    {
        var id = NewJobId();
        var status = new JobStatus(id, "tests.encode", JobState.Running, 30, 120, 2, At, """{"url":"s3://out/1.mp4","frames":1200}""");

        await CreateStore().SaveAsync(status, default);
        var read = await CreateStore().GetAsync(id, default);

        Assert.Equal(status, read);
        Assert.Equal(1200, read!.ResultAs<EncodeResult>()!.Frames);
    }

    [Fact]
    public async Task Saving_again_replaces_the_status_and_an_unknown_job_is_null()
    {
        var store = CreateStore();
        var id = NewJobId();
        await store.SaveAsync(new JobStatus(id, "tests.encode", JobState.Running, 1, 10, 1, At), default);

        await store.SaveAsync(new JobStatus(id, "tests.encode", JobState.Completed, 10, 10, 1, At.AddMinutes(5), "\"done\""), default);

        var read = await store.GetAsync(id, default);
        Assert.Equal(JobState.Completed, read!.State);
        Assert.Equal(10, read.Done);
        Assert.Equal("\"done\"", read.ResultJson);
        Assert.Null(await store.GetAsync(NewJobId(), default));
    }

    [Fact]
    public async Task Listing_by_state_returns_the_most_recently_updated_first_up_to_the_maximum()
    {
        var store = CreateStore();
        var type = "tests.list-" + Guid.NewGuid().ToString("N")[..8];
        var ids = Enumerable.Range(0, 3).Select(_ => NewJobId()).ToList();
        for (var i = 0; i < ids.Count; i++)
        {
            await store.SaveAsync(new JobStatus(ids[i], type, JobState.Running, i, 10, 1, At.AddYears(50).AddSeconds(i)), default);
        }

        var finished = NewJobId();
        await store.SaveAsync(new JobStatus(finished, type, JobState.DeadLettered, 0, 10, 5, At.AddYears(50).AddSeconds(10)), default);

        var running = await store.ListAsync(JobState.Running, 2, default);

        Assert.Equal([ids[2], ids[1]], running.Select(s => s.MessageId));
        Assert.Contains(await store.ListAsync(JobState.DeadLettered, 100, default), s => s.MessageId == finished);
        Assert.DoesNotContain(running, s => s.MessageId == finished);
    }

    /// <summary>A job id unique to this test.</summary>
    protected static string NewJobId() => "job-" + Guid.NewGuid().ToString("N");

    private sealed record EncodeResult(string Url, int Frames);
}

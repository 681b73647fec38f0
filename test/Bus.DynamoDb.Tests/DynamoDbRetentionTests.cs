using Amazon.DynamoDBv2;
using Bus.DynamoDb.Steps;

namespace Bus.DynamoDb.Tests;

public sealed class DynamoDbRetentionTests : IDisposable
{
    private readonly IAmazonDynamoDB _client = Dynalite.Client();

    [Fact]
    public async Task A_job_that_finishes_a_step_while_the_sweep_runs_keeps_all_its_steps()
    {
        var prefix = Dynalite.UniquePrefix("sweep");
        var time = new Testing.ManualTimeProvider();
        var store = new DynamoDbStepStore(_client, Dynalite.Options(prefix), time);
        await store.SaveAsync("job-1", "a", "1", default);
        time.Advance(TimeSpan.FromDays(2));
        var table = new StepTable(_client, prefix + "steps");

        // The sweep reads the job as old ...
        var marks = new List<JobMark>();
        await foreach (var mark in table.ScanJobsFinishedBeforeAsync(time.GetUtcNow() - TimeSpan.FromDays(1), default))
        {
            marks.Add(mark);
        }

        // ... then the job finishes another step before the sweep deletes it.
        await store.SaveAsync("job-1", "b", "2", default);

        Assert.False(await table.DeleteJobIfUnchangedAsync(Assert.Single(marks), default));
        Assert.Equal(0, await store.DeleteJobsFinishedBeforeAsync(time.GetUtcNow() - TimeSpan.FromDays(1), default));
        Assert.Equal(["a", "b"], await store.ListAsync("job-1", default));
    }

    [Fact]
    public async Task Retention_deletes_a_job_of_more_steps_than_one_batch_holds()
    {
        var time = new Testing.ManualTimeProvider();
        var store = new DynamoDbStepStore(_client, Dynalite.Options(Dynalite.UniquePrefix("many")), time);
        for (var i = 0; i < 60; i++)
        {
            await store.SaveAsync("job-big", $"step-{i:D2}", "1", default);
        }

        time.Advance(TimeSpan.FromDays(2));

        Assert.Equal(60, await store.DeleteJobsFinishedBeforeAsync(time.GetUtcNow() - TimeSpan.FromDays(1), default));
        Assert.Empty(await store.ListAsync("job-big", default));
    }

    public void Dispose() => _client.Dispose();
}

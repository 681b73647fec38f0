using Bus.AzureTables.Steps;

namespace Bus.AzureTables.Tests;

public sealed class AzureTablesRetentionTests
{
    [Fact]
    public async Task A_job_that_finishes_a_step_while_the_sweep_runs_keeps_all_its_steps()
    {
        var options = Azurite.Options(Azurite.UniquePrefix("sweep"));
        var time = new Testing.ManualTimeProvider();
        var store = new AzureTablesStepStore(Azurite.Client(), options, time);
        await store.SaveAsync("job-1", "a", "1", default);
        time.Advance(TimeSpan.FromDays(2));
        var table = new StepTable(Azurite.Client().GetTableClient(options.StepTableName));

        // The sweep reads the job as old ...
        var marks = new List<JobMark>();
        await foreach (var mark in table.JobsFinishedBeforeAsync(time.GetUtcNow() - TimeSpan.FromDays(1), default))
        {
            marks.Add(mark);
        }

        // ... then the job finishes another step before the sweep deletes it.
        await store.SaveAsync("job-1", "b", "2", default);
        var steps = await table.ListStepsAsync("job-1", default);

        Assert.Equal(-1, await table.DeleteJobAsync(Assert.Single(marks), steps.Select(s => s.RowKey).ToList(), default));
        Assert.Equal(0, await store.DeleteJobsFinishedBeforeAsync(time.GetUtcNow() - TimeSpan.FromDays(1), default));
        Assert.Equal(["a", "b"], await store.ListAsync("job-1", default));
    }

    [Fact]
    public async Task Retention_deletes_a_job_of_more_steps_than_one_transaction_holds()
    {
        var time = new Testing.ManualTimeProvider();
        var store = new AzureTablesStepStore(Azurite.Client(), Azurite.Options(Azurite.UniquePrefix("many")), time);
        for (var i = 0; i < 150; i++)
        {
            await store.SaveAsync("job-big", $"step-{i:D3}", "1", default);
        }

        time.Advance(TimeSpan.FromDays(2));

        Assert.Equal(150, await store.DeleteJobsFinishedBeforeAsync(time.GetUtcNow() - TimeSpan.FromDays(1), default));
        Assert.Empty(await store.ListAsync("job-big", default));
    }
}

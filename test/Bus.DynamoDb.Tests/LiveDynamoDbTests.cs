using Amazon.DynamoDBv2;
using Bus.Jobs;
using Bus.Workflows;

namespace Bus.DynamoDb.Tests;

/// <summary>A fact that runs against real DynamoDB only when BUS_DYNAMODB_LIVE=1 and AWS credentials are configured.</summary>
public sealed class LiveDynamoDbFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> with the reason when live tests are not enabled.</summary>
    public LiveDynamoDbFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("BUS_DYNAMODB_LIVE") != "1")
        {
            Skip = "Live DynamoDB tests run only with BUS_DYNAMODB_LIVE=1 (and AWS credentials and AWS_REGION in the environment); they create and delete tables prefixed 'bus-live-'.";
        }
        else if (Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID") is null && Environment.GetEnvironmentVariable("AWS_PROFILE") is null
                 && Environment.GetEnvironmentVariable("AWS_WEB_IDENTITY_TOKEN_FILE") is null)
        {
            Skip = "BUS_DYNAMODB_LIVE=1 but no AWS credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE or AWS_WEB_IDENTITY_TOKEN_FILE) are set.";
        }
    }
}

public sealed class LiveDynamoDbTests
{
    [LiveDynamoDbFact]
    public async Task Stores_work_on_real_DynamoDB_with_tables_they_create()
    {
        var prefix = $"bus-live-{Guid.NewGuid():N}-"[..18];
        var options = new DynamoDbStoreOptions { TableNamePrefix = prefix, StepTimeToLive = TimeSpan.FromDays(30) };
        var (client, _) = Connection.DynamoDbClientFactory.Create(options, services: null);
        using var _client = client;
        try
        {
            var workflows = new DynamoDbWorkflowStore(client, options);
            var steps = new DynamoDbStepStore(client, options);
            var jobs = new DynamoDbJobStatusStore(client, options);
            var now = DateTimeOffset.UtcNow;
            var instance = new WorkflowInstance("live", Guid.NewGuid().ToString(), "order-1", 1, WorkflowStatus.Running, "{}", [], now, now);

            await workflows.InsertAsync(instance, default);
            await workflows.UpdateAsync(instance with { CorrelationValue = "order-2" }, 1, default);
            await Assert.ThrowsAsync<WorkflowConcurrencyException>(() => workflows.UpdateAsync(instance, 1, default));
            await steps.SaveAsync("job-1", "a", "1", default);
            await steps.SaveAsync("job-1", "b", "2", default);
            var job = new JobStatus("job-1", "live.job", JobState.Completed, 2, 2, 1, now, "\"done\"");
            await jobs.SaveAsync(job, default);

            Assert.Equal(2, (await workflows.FindAsync("live", "order-2", default))?.Version);
            Assert.Null(await workflows.FindAsync("live", "order-1", default));
            Assert.Equal(["a", "b"], await steps.ListAsync("job-1", default));
            Assert.Equal(2, await steps.DeleteJobsFinishedBeforeAsync(DateTimeOffset.UtcNow.AddMinutes(1), default));
            Assert.Equal(job, await jobs.GetAsync("job-1", default)); // the index behind ListAsync is eventually consistent
        }
        finally
        {
            foreach (var table in new[] { options.WorkflowTableName, options.StepTableName, options.JobTableName })
            {
                try
                {
                    await client.DeleteTableAsync(table);
                }
                catch (Amazon.DynamoDBv2.Model.ResourceNotFoundException)
                {
                }
            }
        }
    }
}

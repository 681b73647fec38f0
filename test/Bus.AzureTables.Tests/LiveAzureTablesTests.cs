using Azure.Data.Tables;
using Bus.AzureTables.Connection;
using Bus.Workflows;

namespace Bus.AzureTables.Tests;

/// <summary>A fact that runs against a real storage account only when BUS_AZURE_TABLES_LIVE_ENDPOINT (Entra ID through
/// DefaultAzureCredential) or BUS_AZURE_TABLES_LIVE_CONNECTION_STRING is set.</summary>
public sealed class LiveAzureTablesFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> with the reason when live tests are not enabled.</summary>
    public LiveAzureTablesFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("BUS_AZURE_TABLES_LIVE_ENDPOINT") is null
            && Environment.GetEnvironmentVariable("BUS_AZURE_TABLES_LIVE_CONNECTION_STRING") is null)
        {
            Skip = "Live Azure Table storage tests run only with BUS_AZURE_TABLES_LIVE_ENDPOINT (https://<account>.table.core.windows.net/, " +
                   "signed in through DefaultAzureCredential) or BUS_AZURE_TABLES_LIVE_CONNECTION_STRING; they create and delete tables prefixed 'BusLive'.";
        }
    }
}

public sealed class LiveAzureTablesTests
{
    [LiveAzureTablesFact]
    public async Task Stores_work_on_a_real_storage_account_with_tables_they_create()
    {
        var options = new AzureTablesStoreOptions { TableNamePrefix = $"BusLive{Guid.NewGuid():N}"[..15] };
        if (Environment.GetEnvironmentVariable("BUS_AZURE_TABLES_LIVE_ENDPOINT") is { } endpoint)
        {
            options.Endpoint = new Uri(endpoint);
        }
        else
        {
            options.ConnectionString = Environment.GetEnvironmentVariable("BUS_AZURE_TABLES_LIVE_CONNECTION_STRING");
        }

        TableServiceClient client = TableServiceClientFactory.Create(options, services: null);
        try
        {
            var workflows = new AzureTablesWorkflowStore(client, options);
            var steps = new AzureTablesStepStore(client, options);
            var jobs = new AzureTablesJobStatusStore(client, options);
            var now = DateTimeOffset.UtcNow;
            var instance = new WorkflowInstance("live", Guid.NewGuid().ToString(), "order-1", 1, WorkflowStatus.Running, "{}", [], now, now);

            await workflows.InsertAsync(instance, default);
            await workflows.UpdateAsync(instance with { CorrelationValue = "order-2" }, 1, default);
            await Assert.ThrowsAsync<WorkflowConcurrencyException>(() => workflows.UpdateAsync(instance, 1, default));
            await steps.SaveAsync("job-1", "a", "1", default);
            await steps.SaveAsync("job-1", "b", "2", default);
            var job = new Bus.Jobs.JobStatus("job-1", "live.job", Bus.Jobs.JobState.Completed, 2, 2, 1, now, "\"done\"");
            await jobs.SaveAsync(job, default);

            Assert.Equal(2, (await workflows.FindAsync("live", "order-2", default))?.Version);
            Assert.Null(await workflows.FindAsync("live", "order-1", default));
            Assert.Equal(["a", "b"], await steps.ListAsync("job-1", default));
            Assert.Equal(2, await steps.DeleteJobsFinishedBeforeAsync(DateTimeOffset.UtcNow.AddMinutes(1), default));
            Assert.Equal(job, await jobs.GetAsync("job-1", default));
            Assert.Equal([job], await jobs.ListAsync(Bus.Jobs.JobState.Completed, 10, default));
        }
        finally
        {
            await client.DeleteTableAsync(options.WorkflowTableName);
            await client.DeleteTableAsync(options.StepTableName);
            await client.DeleteTableAsync(options.JobTableName);
        }
    }
}

using Azure.Data.Tables;
using Bus.AzureTables.Provisioning;
using Bus.AzureTables.Steps;
using Bus.Steps;

namespace Bus.AzureTables;

/// <summary>
/// A step store on an Azure Table storage table (<c>{prefix}Steps</c>) shared by every host of an endpoint: a job's
/// steps share a partition with a job entity that numbers them, and each step is added in one entity group
/// transaction with the job entity (conditional on its ETag), so the first result wins across hosts and steps list in
/// the order they finished. Results longer than a property may hold are split over several properties (an entity holds
/// 1 MiB at most).
/// </summary>
public sealed class AzureTablesStepStore : IStepStore
{
    private const int SaveAttempts = 100;
    private readonly StepTable _table;
    private readonly TimeProvider _time;

    /// <summary>Creates a store on <paramref name="service"/>. The table is created or verified on first use, as
    /// <see cref="AzureTablesStoreOptions.Provisioning"/> says.</summary>
    /// <param name="service">The table service client.</param>
    /// <param name="options">The table prefix and provisioning; defaults when null.</param>
    /// <param name="timeProvider">The clock for finished-at times; <see cref="TimeProvider.System"/> when null.</param>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public AzureTablesStepStore(TableServiceClient service, AzureTablesStoreOptions? options = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(service);
        options ??= new AzureTablesStoreOptions();
        options.Validate(requireAccount: false);
        _time = timeProvider ?? TimeProvider.System;
        TableName = options.StepTableName;
        _table = new StepTable(service.GetTableClient(TableName));
        Provisioner = new TableProvisioner(service, TableName, options.Provisioning);
    }

    /// <summary>The table's name.</summary>
    public string TableName { get; }

    internal TableProvisioner Provisioner { get; }

    /// <summary>Creates the table when missing (CreateIfMissing) or checks it (VerifyOnly). Called on first use anyway.</summary>
    /// <exception cref="InvalidOperationException">VerifyOnly and the table is missing.</exception>
    public Task EnsureTableAsync(CancellationToken cancellationToken) => Provisioner.EnsureAsync(cancellationToken);

    /// <inheritdoc />
    public async Task<string?> GetAsync(string jobId, string stepName, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentException.ThrowIfNullOrEmpty(stepName);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        return await _table.GetResultAsync(jobId, stepName, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task SaveAsync(string jobId, string stepName, string resultJson, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentException.ThrowIfNullOrEmpty(stepName);
        ArgumentNullException.ThrowIfNull(resultJson);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        for (var attempt = 0; attempt < SaveAttempts; attempt++)
        {
            if (await _table.GetResultAsync(jobId, stepName, cancellationToken).ConfigureAwait(false) is not null)
            {
                return; // the first result stays
            }

            if (await _table.TryAddStepAsync(jobId, stepName, resultJson, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false))
            {
                return;
            }
        }

        throw new InvalidOperationException(
            $"Step '{stepName}' of job '{jobId}' could not be saved: the job's entity in table '{TableName}' kept changing under " +
            $"{SaveAttempts} attempts. The step will run again on the message's retry.");
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> ListAsync(string jobId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        var steps = await _table.ListStepsAsync(jobId, cancellationToken).ConfigureAwait(false);
        return steps.OrderBy(s => s.Sequence).Select(s => s.Name).ToList();
    }

    /// <inheritdoc />
    public async Task<int> DeleteJobsFinishedBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        var jobs = new List<JobMark>();
        await foreach (var job in _table.JobsFinishedBeforeAsync(cutoff, cancellationToken).ConfigureAwait(false))
        {
            jobs.Add(job);
        }

        var deleted = 0;
        foreach (var job in jobs)
        {
            // Steps numbered after the sweep read the job belong to a job that is running again; the job entity's ETag
            // guards that, so such a job keeps every step.
            var steps = await _table.ListStepsAsync(Entities.KeyEncoding.Decode(job.PartitionKey), cancellationToken).ConfigureAwait(false);
            var rowKeys = steps.Where(s => s.Sequence <= job.Sequence).Select(s => s.RowKey).ToList();
            var count = await _table.DeleteJobAsync(job, rowKeys, cancellationToken).ConfigureAwait(false);
            deleted += Math.Max(0, count);
        }

        return deleted;
    }
}

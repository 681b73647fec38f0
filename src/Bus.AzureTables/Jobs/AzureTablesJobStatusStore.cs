using Azure.Data.Tables;
using Bus.AzureTables.Jobs;
using Bus.AzureTables.Provisioning;
using Bus.Jobs;

namespace Bus.AzureTables;

/// <summary>
/// A job status store on an Azure Table storage table (<c>{prefix}Jobs</c>) shared by every host of an endpoint: one
/// entity per job in a partition of its own (the message id), replaced on every save, so any host answers
/// <see cref="IJobStatusQuery"/> for any job. Results longer than a property may hold are split over several
/// properties (an entity holds 1 MiB at most).
/// </summary>
/// <remarks>
/// Table storage has no secondary index, so <see cref="ListAsync"/> queries the table across partitions for the jobs
/// in the state (reading only their ids and update times), orders them by last update, and reads the
/// <c>max</c> most recent whole; a job that left the state in between is left out. The cost grows with the number of
/// jobs in the state, which suits listing running jobs; finished statuses stay until deleted, so remove old ones with
/// your own tooling when the table grows large.
/// </remarks>
public sealed class AzureTablesJobStatusStore : IJobStatusStore
{
    /// <summary>The longest result (characters) the store writes: an entity holds at most 1 MiB of UTF-16 text.</summary>
    internal const int MaxResultLength = 500_000;

    private readonly JobTable _table;

    /// <summary>Creates a store on <paramref name="service"/>. The table is created or verified on first use, as
    /// <see cref="AzureTablesStoreOptions.Provisioning"/> says.</summary>
    /// <param name="service">The table service client.</param>
    /// <param name="options">The table prefix and provisioning; defaults when null.</param>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public AzureTablesJobStatusStore(TableServiceClient service, AzureTablesStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(service);
        options ??= new AzureTablesStoreOptions();
        options.Validate(requireAccount: false);
        TableName = options.JobTableName;
        _table = new JobTable(service.GetTableClient(TableName));
        Provisioner = new TableProvisioner(service, TableName, options.Provisioning);
    }

    /// <summary>The table's name.</summary>
    public string TableName { get; }

    internal TableProvisioner Provisioner { get; }

    /// <summary>Creates the table when missing (CreateIfMissing) or checks it (VerifyOnly). Called on first use anyway.</summary>
    /// <exception cref="InvalidOperationException">VerifyOnly and the table is missing.</exception>
    public Task EnsureTableAsync(CancellationToken cancellationToken) => Provisioner.EnsureAsync(cancellationToken);

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The result is longer than an entity can hold.</exception>
    public async Task SaveAsync(JobStatus status, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(status);
        ArgumentException.ThrowIfNullOrEmpty(status.MessageId, nameof(status));
        if (status.ResultJson is { Length: > MaxResultLength } result)
        {
            throw new ArgumentException(
                $"The result of job {status.MessageId} is {result.Length:N0} characters of JSON; an Azure table entity holds at most 1 MiB " +
                $"({MaxResultLength:N0} characters). Record a smaller result, e.g. where the output was written (a blob URL) rather than the output itself.",
                nameof(status));
        }

        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        await _table.UpsertAsync(status, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<JobStatus?> GetAsync(string messageId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(messageId);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        return await _table.GetAsync(messageId, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<JobStatus>> ListAsync(JobState state, int max, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        var newest = (await _table.FindAsync(state, cancellationToken).ConfigureAwait(false))
            .OrderByDescending(job => job.UpdatedAt)
            .Take(max)
            .Select(job => _table.GetAsync(job.MessageId, cancellationToken));
        var statuses = await Task.WhenAll(newest).ConfigureAwait(false);
        return statuses.Where(s => s?.State == state).Select(s => s!).OrderByDescending(s => s.UpdatedAt).ToList();
    }
}

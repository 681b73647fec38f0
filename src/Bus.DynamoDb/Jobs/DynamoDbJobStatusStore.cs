using System.Text;
using Amazon.DynamoDBv2;
using Bus.DynamoDb.Jobs;
using Bus.DynamoDb.Provisioning;
using Bus.Jobs;

namespace Bus.DynamoDb;

/// <summary>
/// A job status store on a DynamoDB table (<c>{prefix}jobs</c>) shared by every host of an endpoint: one item per job,
/// keyed by its message id and replaced on every save, so any host answers <see cref="IJobStatusQuery"/> for any job.
/// </summary>
/// <remarks>
/// <see cref="GetAsync"/> is a strongly consistent read of the job's item. <see cref="ListAsync"/> queries a global
/// secondary index, <c>state-updatedAt</c> (partition key <c>state</c>, sort key <c>updatedAt</c> in UTC ticks, all
/// attributes projected), backwards: the most recently updated jobs of a state come first, without a scan, and
/// DynamoDB keeps the index in step with every save by itself. The alternative, an index of our own (a second item per
/// job under a partition per state), would have to move with the job's item on every change of state or time: atomic
/// only with <c>TransactWriteItems</c>, which dynalite 4.0.0 lacks, and otherwise left stale by a crash between the two
/// writes. The price of the index: it is read eventually consistent (a listing may lag a save by a moment), and the
/// jobs of one state share one index partition, whose write rate DynamoDB limits (about 1,000 writes a second), far
/// above what progress reports of long jobs need. Statuses stay until deleted (no time to live): remove old items with
/// your own tooling when the table grows large.
/// </remarks>
public sealed class DynamoDbJobStatusStore : IJobStatusStore, IDisposable
{
    /// <summary>The largest result (UTF-8 bytes) the store writes: a DynamoDB item holds at most 400 KB.</summary>
    internal const int MaxResultBytes = 380 * 1024;

    private readonly IAmazonDynamoDB _client;
    private readonly bool _ownsClient;
    private readonly JobTable _table;

    /// <summary>Creates a store on <paramref name="client"/> (not disposed by the store). The table is created or
    /// verified on first use, as <see cref="DynamoDbStoreOptions.Provisioning"/> says.</summary>
    /// <param name="client">The DynamoDB client.</param>
    /// <param name="options">The table prefix and provisioning; defaults when null.</param>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public DynamoDbJobStatusStore(IAmazonDynamoDB client, DynamoDbStoreOptions? options = null)
        : this(client, options ?? new DynamoDbStoreOptions(), ownsClient: false)
    {
    }

    internal DynamoDbJobStatusStore(IAmazonDynamoDB client, DynamoDbStoreOptions options, bool ownsClient)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _client = client;
        _ownsClient = ownsClient;
        TableName = options.JobTableName;
        _table = new JobTable(client, TableName);
        Provisioner = new TableProvisioner(client, new TableSpec(TableName, HasSortKey: false, TimeToLiveAttribute: null, JobTable.Index), options.Provisioning);
    }

    /// <summary>The table's name.</summary>
    public string TableName { get; }

    internal TableProvisioner Provisioner { get; }

    /// <summary>Creates the table with its index when missing (CreateIfMissing) or checks them (VerifyOnly). Called on
    /// first use anyway.</summary>
    /// <exception cref="InvalidOperationException">VerifyOnly and the table or its index is missing, or the table has
    /// other keys.</exception>
    public Task EnsureTableAsync(CancellationToken cancellationToken) => Provisioner.EnsureAsync(cancellationToken);

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The result is larger than a DynamoDB item can hold.</exception>
    public async Task SaveAsync(JobStatus status, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(status);
        ArgumentException.ThrowIfNullOrEmpty(status.MessageId, nameof(status));
        if (status.ResultJson is { } result && Encoding.UTF8.GetByteCount(result) is var bytes && bytes > MaxResultBytes)
        {
            throw new ArgumentException(
                $"The result of job {status.MessageId} is {bytes:N0} bytes of JSON; a DynamoDB item holds at most 400 KB. Record a smaller result, " +
                "e.g. where the output was written (an S3 key) rather than the output itself.", nameof(status));
        }

        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        await _table.PutAsync(status, cancellationToken).ConfigureAwait(false);
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
        return await _table.ListAsync(state, max, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Disposes the DynamoDB client when the store built it.</summary>
    public void Dispose()
    {
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }
}

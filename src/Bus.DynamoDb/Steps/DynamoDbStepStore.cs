using Amazon.DynamoDBv2;
using Bus.DynamoDb.Provisioning;
using Bus.DynamoDb.Steps;
using Bus.Steps;

namespace Bus.DynamoDb;

/// <summary>
/// A step store on a DynamoDB table (<c>{prefix}steps</c>) shared by every host of an endpoint: a finished step is
/// stored with a conditional write, so the first result wins across hosts. Each job has an item with its step counter
/// (the finish order) and latest finish time, which retention reads; with
/// <see cref="DynamoDbStoreOptions.StepTimeToLive"/> items also carry a time-to-live attribute.
/// </summary>
public sealed class DynamoDbStepStore : IStepStore, IDisposable
{
    private readonly IAmazonDynamoDB _client;
    private readonly bool _ownsClient;
    private readonly StepTable _table;
    private readonly TimeProvider _time;
    private readonly TimeSpan? _timeToLive;

    /// <summary>Creates a store on <paramref name="client"/> (not disposed by the store). The table is created or
    /// verified on first use, as <see cref="DynamoDbStoreOptions.Provisioning"/> says.</summary>
    /// <param name="client">The DynamoDB client.</param>
    /// <param name="options">The table prefix, provisioning and TTL; defaults when null.</param>
    /// <param name="timeProvider">The clock for finished-at times; <see cref="TimeProvider.System"/> when null.</param>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public DynamoDbStepStore(IAmazonDynamoDB client, DynamoDbStoreOptions? options = null, TimeProvider? timeProvider = null)
        : this(client, options ?? new DynamoDbStoreOptions(), timeProvider, ownsClient: false)
    {
    }

    internal DynamoDbStepStore(IAmazonDynamoDB client, DynamoDbStoreOptions options, TimeProvider? timeProvider, bool ownsClient)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _client = client;
        _ownsClient = ownsClient;
        _time = timeProvider ?? TimeProvider.System;
        _timeToLive = options.StepTimeToLive;
        TableName = options.StepTableName;
        _table = new StepTable(client, TableName);
        Provisioner = new TableProvisioner(
            client,
            new TableSpec(TableName, HasSortKey: true, _timeToLive is null ? null : StepTable.TimeToLiveAttribute),
            options.Provisioning);
    }

    /// <summary>The table's name.</summary>
    public string TableName { get; }

    internal TableProvisioner Provisioner { get; }

    /// <summary>Creates the table when missing (CreateIfMissing) or checks it (VerifyOnly). Called on first use anyway.</summary>
    /// <exception cref="InvalidOperationException">VerifyOnly and the table (or its TTL) is missing.</exception>
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
        if (await _table.GetResultAsync(jobId, stepName, cancellationToken).ConfigureAwait(false) is not null)
        {
            return; // the first result stays; the job's latest finish does not move
        }

        var now = _time.GetUtcNow();
        long? expiresAt = _timeToLive is { } ttl ? (now + ttl).ToUnixTimeSeconds() : null;
        var sequence = await _table.NextSequenceAsync(jobId, now, expiresAt, cancellationToken).ConfigureAwait(false);
        await _table.PutStepIfAbsentAsync(jobId, stepName, resultJson, sequence, now, expiresAt, cancellationToken).ConfigureAwait(false);
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
        var deleted = 0;
        await foreach (var job in _table.ScanJobsFinishedBeforeAsync(cutoff, cancellationToken).ConfigureAwait(false))
        {
            // The job item goes first, and only when no step was numbered since the scan read it: a job that is running
            // again keeps all its steps. Steps numbered after the mark (a save racing this sweep) stay too.
            var steps = await _table.ListStepsAsync(job.JobId, cancellationToken).ConfigureAwait(false);
            if (!await _table.DeleteJobIfUnchangedAsync(job, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            var names = steps.Where(s => s.Sequence <= job.Sequence).Select(s => s.Name).ToList();
            deleted += await _table.DeleteStepsAsync(job.JobId, names, cancellationToken).ConfigureAwait(false);
        }

        return deleted;
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

using Amazon.DynamoDBv2;
using Bus.DynamoDb.Provisioning;
using Bus.DynamoDb.Workflows;
using Bus.Workflows;

namespace Bus.DynamoDb;

/// <summary>
/// A workflow store on a DynamoDB table (<c>{prefix}workflows</c>) shared by every host of an endpoint. Saves are
/// conditional writes on a version attribute (a lost race throws <see cref="WorkflowConcurrencyException"/> and the
/// message is retried). Each correlation value in use has an item of its own naming its instance, claimed with a
/// conditional write, so a correlation value belongs to one instance at most and lookups are strongly consistent
/// (a global secondary index could not enforce that and is read eventually consistent).
/// </summary>
public sealed class DynamoDbWorkflowStore : IWorkflowStore, IDisposable
{
    private const int ClaimAttempts = 5;
    private readonly IAmazonDynamoDB _client;
    private readonly bool _ownsClient;
    private readonly WorkflowTable _table;

    /// <summary>Creates a store on <paramref name="client"/> (not disposed by the store). The table is created or
    /// verified on first use, as <see cref="DynamoDbStoreOptions.Provisioning"/> says.</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public DynamoDbWorkflowStore(IAmazonDynamoDB client, DynamoDbStoreOptions? options = null)
        : this(client, options ?? new DynamoDbStoreOptions(), ownsClient: false)
    {
    }

    internal DynamoDbWorkflowStore(IAmazonDynamoDB client, DynamoDbStoreOptions options, bool ownsClient)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _client = client;
        _ownsClient = ownsClient;
        TableName = options.WorkflowTableName;
        _table = new WorkflowTable(client, TableName);
        Provisioner = new TableProvisioner(client, new TableSpec(TableName, HasSortKey: false, TimeToLiveAttribute: null), options.Provisioning);
    }

    /// <summary>The table's name.</summary>
    public string TableName { get; }

    internal TableProvisioner Provisioner { get; }

    /// <summary>Creates the table when missing (CreateIfMissing) or checks it (VerifyOnly). Called on first use anyway.</summary>
    /// <exception cref="InvalidOperationException">VerifyOnly and the table is missing or has other keys.</exception>
    public Task EnsureTableAsync(CancellationToken cancellationToken) => Provisioner.EnsureAsync(cancellationToken);

    /// <inheritdoc />
    public async Task<WorkflowInstance?> GetAsync(string workflowName, string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(workflowName);
        ArgumentException.ThrowIfNullOrEmpty(id);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        return await _table.GetInstanceAsync(workflowName, id, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<WorkflowInstance?> FindAsync(string workflowName, string correlationValue, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(workflowName);
        ArgumentNullException.ThrowIfNull(correlationValue);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        if (await _table.GetPointerAsync(workflowName, correlationValue, cancellationToken).ConfigureAwait(false) is not { } pointer)
        {
            return null;
        }

        // A pointer being moved (or left by a crashed move) may name an instance that does not hold the value (yet).
        var instance = await _table.GetInstanceAsync(workflowName, pointer.InstanceId, cancellationToken).ConfigureAwait(false);
        return instance?.CorrelationValue == correlationValue ? instance : null;
    }

    /// <inheritdoc />
    /// <remarks>A Scan of the table filtered to the workflow's instances (and status), all pages, sorted and paged in
    /// memory: the table is keyed by instance alone, with no index by workflow name to Query, so each page reads the
    /// whole table. Meant for operators' occasional listings, not the message path.</remarks>
    public async Task<WorkflowPage> ListAsync(WorkflowListQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        var instances = await _table.ScanInstancesAsync(query.WorkflowName, query.Status, cancellationToken).ConfigureAwait(false);
        return WorkflowPage.Of(instances, query);
    }

    /// <inheritdoc />
    public async Task InsertAsync(WorkflowInstance instance, CancellationToken cancellationToken)
    {
        Validate(instance);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        if (!await _table.PutNewInstanceAsync(instance, cancellationToken).ConfigureAwait(false))
        {
            throw new WorkflowConcurrencyException($"Workflow '{instance.WorkflowName}' instance '{instance.Id}' already exists.");
        }

        // The instance is written before its correlation is claimed, so a pointer always names an instance that was
        // written; a lost claim takes the instance back out.
        if (instance.CorrelationValue is { } correlation
            && !await ClaimAsync(instance.WorkflowName, correlation, instance.Id, 1, cancellationToken).ConfigureAwait(false))
        {
            await _table.DeleteInstanceAsync(instance.WorkflowName, instance.Id, 1, CancellationToken.None).ConfigureAwait(false);
            throw new WorkflowConcurrencyException($"Workflow '{instance.WorkflowName}' already has an instance correlated on '{correlation}'.");
        }
    }

    /// <inheritdoc />
    public async Task UpdateAsync(WorkflowInstance instance, long expectedVersion, CancellationToken cancellationToken)
    {
        Validate(instance);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);

        // Usually the correlation value stays: one conditional write.
        if (await _table.ReplaceInstanceAsync(instance, expectedVersion, sameCorrelation: true, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        var stored = await _table.GetInstanceAsync(instance.WorkflowName, instance.Id, cancellationToken).ConfigureAwait(false);
        if (stored is null || stored.Version != expectedVersion || stored.CorrelationValue == instance.CorrelationValue)
        {
            throw Stale(instance, expectedVersion);
        }

        // The correlation value moves: claim the new one (valid from the next version), write, then let the old one go.
        var next = expectedVersion + 1;
        if (instance.CorrelationValue is { } claimed
            && !await ClaimAsync(instance.WorkflowName, claimed, instance.Id, next, cancellationToken).ConfigureAwait(false))
        {
            throw new WorkflowConcurrencyException(
                $"Workflow '{instance.WorkflowName}' already has another instance correlated on '{claimed}'.");
        }

        if (!await _table.ReplaceInstanceAsync(instance, expectedVersion, sameCorrelation: false, cancellationToken).ConfigureAwait(false))
        {
            if (instance.CorrelationValue is { } release)
            {
                await _table.DeletePointerAsync(instance.WorkflowName, release, instance.Id, next, CancellationToken.None).ConfigureAwait(false);
            }

            throw Stale(instance, expectedVersion);
        }

        if (stored.CorrelationValue is { } old)
        {
            await _table.DeletePointerAsync(instance.WorkflowName, old, instance.Id, null, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Disposes the DynamoDB client when the store built it.</summary>
    public void Dispose()
    {
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }

    /// <summary>Points (workflow, value) at the instance from <paramref name="version"/> on. A pointer held by another
    /// instance is taken over only when it is stale: its instance is gone, or has reached the pointer's version and
    /// holds another value (a move that crashed half-way).</summary>
    private async Task<bool> ClaimAsync(string workflowName, string value, string id, long version, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < ClaimAttempts; attempt++)
        {
            if (await _table.PutPointerIfAbsentAsync(workflowName, value, id, version, cancellationToken).ConfigureAwait(false))
            {
                return true;
            }

            if (await _table.GetPointerAsync(workflowName, value, cancellationToken).ConfigureAwait(false) is not { } pointer)
            {
                continue; // let go in between: try again
            }

            if (pointer.InstanceId != id)
            {
                var holder = await _table.GetInstanceAsync(workflowName, pointer.InstanceId, cancellationToken).ConfigureAwait(false);
                var stale = holder is null || (holder.Version >= pointer.Version && holder.CorrelationValue != value);
                if (!stale)
                {
                    return false;
                }
            }

            if (await _table.ReplacePointerAsync(workflowName, value, id, version, pointer, cancellationToken).ConfigureAwait(false))
            {
                return true;
            }
        }

        return false;
    }

    private static WorkflowConcurrencyException Stale(WorkflowInstance instance, long expectedVersion) => new(
        $"Workflow '{instance.WorkflowName}' instance '{instance.Id}' changed since it was read, or is gone (expected version {expectedVersion}).");

    private static void Validate(WorkflowInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentException.ThrowIfNullOrEmpty(instance.WorkflowName, nameof(instance));
        ArgumentException.ThrowIfNullOrEmpty(instance.Id, nameof(instance));
        ArgumentNullException.ThrowIfNull(instance.StateJson, nameof(instance));
        ArgumentNullException.ThrowIfNull(instance.History, nameof(instance));
    }
}

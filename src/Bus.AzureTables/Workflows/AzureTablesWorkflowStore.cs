using Azure.Data.Tables;
using Bus.AzureTables.Provisioning;
using Bus.AzureTables.Workflows;
using Bus.Workflows;

namespace Bus.AzureTables;

/// <summary>
/// A workflow store on an Azure Table storage table (<c>{prefix}Workflows</c>) shared by every host of an endpoint.
/// Saves are conditional on the entity's ETag (a lost race throws <see cref="WorkflowConcurrencyException"/> and the
/// message is retried). A workflow's instances share a partition with the entities that reserve their correlation
/// values, so an instance and its reservation are written in one entity group transaction and a correlation value
/// belongs to one instance at most.
/// </summary>
public sealed class AzureTablesWorkflowStore : IWorkflowStore
{
    private readonly WorkflowTable _table;

    /// <summary>Creates a store on <paramref name="service"/>. The table is created or verified on first use, as
    /// <see cref="AzureTablesStoreOptions.Provisioning"/> says.</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public AzureTablesWorkflowStore(TableServiceClient service, AzureTablesStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(service);
        options ??= new AzureTablesStoreOptions();
        options.Validate(requireAccount: false);
        TableName = options.WorkflowTableName;
        _table = new WorkflowTable(service.GetTableClient(TableName));
        Provisioner = new TableProvisioner(service, TableName, options.Provisioning);
    }

    /// <summary>The table's name.</summary>
    public string TableName { get; }

    internal TableProvisioner Provisioner { get; }

    /// <summary>Creates the table when missing (CreateIfMissing) or checks it (VerifyOnly). Called on first use anyway.</summary>
    /// <exception cref="InvalidOperationException">VerifyOnly and the table is missing.</exception>
    public Task EnsureTableAsync(CancellationToken cancellationToken) => Provisioner.EnsureAsync(cancellationToken);

    /// <inheritdoc />
    public async Task<WorkflowInstance?> GetAsync(string workflowName, string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(workflowName);
        ArgumentException.ThrowIfNullOrEmpty(id);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        return (await _table.GetInstanceAsync(workflowName, id, cancellationToken).ConfigureAwait(false))?.Instance;
    }

    /// <inheritdoc />
    public async Task<WorkflowInstance?> FindAsync(string workflowName, string correlationValue, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(workflowName);
        ArgumentNullException.ThrowIfNull(correlationValue);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        if (await _table.GetCorrelatedIdAsync(workflowName, correlationValue, cancellationToken).ConfigureAwait(false) is not { } id)
        {
            return null;
        }

        // The reservation and the instance change together; read between two changes, they may disagree for a moment.
        var found = await _table.GetInstanceAsync(workflowName, id, cancellationToken).ConfigureAwait(false);
        return found?.Instance.CorrelationValue == correlationValue ? found.Value.Instance : null;
    }

    /// <inheritdoc />
    public async Task InsertAsync(WorkflowInstance instance, CancellationToken cancellationToken)
    {
        Validate(instance);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        if (!await _table.InsertAsync(instance, cancellationToken).ConfigureAwait(false))
        {
            throw new WorkflowConcurrencyException(instance.CorrelationValue is { } correlation
                ? $"Workflow '{instance.WorkflowName}' already has instance '{instance.Id}' or an instance correlated on '{correlation}'."
                : $"Workflow '{instance.WorkflowName}' instance '{instance.Id}' already exists.");
        }
    }

    /// <inheritdoc />
    public async Task UpdateAsync(WorkflowInstance instance, long expectedVersion, CancellationToken cancellationToken)
    {
        Validate(instance);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        var stored = await _table.GetInstanceAsync(instance.WorkflowName, instance.Id, cancellationToken).ConfigureAwait(false);
        if (stored is not { } current || current.Instance.Version != expectedVersion)
        {
            throw Stale(instance, expectedVersion);
        }

        if (!await _table.ReplaceAsync(instance, expectedVersion + 1, current.ETag, current.Instance.CorrelationValue, cancellationToken).ConfigureAwait(false))
        {
            throw instance.CorrelationValue != current.Instance.CorrelationValue
                ? new WorkflowConcurrencyException(
                    $"Workflow '{instance.WorkflowName}' instance '{instance.Id}' changed since it was read, or another instance holds correlation value '{instance.CorrelationValue}'.")
                : Stale(instance, expectedVersion);
        }
    }

    /// <inheritdoc />
    /// <remarks>A query of the workflow's partition (its instances' RowKey range, filtered by status on the server),
    /// all pages, sorted and paged in memory: Table storage sorts by RowKey only, so a newest-first page needs every
    /// instance of the workflow. Meant for operators' occasional listings, not the message path.</remarks>
    public async Task<WorkflowPage> ListAsync(WorkflowListQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        var instances = await _table.QueryInstancesAsync(query.WorkflowName, query.Status, cancellationToken).ConfigureAwait(false);
        return WorkflowPage.Of(instances, query);
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

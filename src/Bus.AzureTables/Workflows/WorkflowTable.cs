using System.Globalization;
using Azure;
using Azure.Data.Tables;
using Bus.AzureTables.Entities;
using Bus.Storage;
using Bus.Workflows;

namespace Bus.AzureTables.Workflows;

/// <summary>
/// The entities of the workflows table. A workflow's instances and its correlation values share one partition (the
/// workflow name), so an instance and the entity that reserves its correlation value (<c>correlation|value</c>) are
/// written in one entity group transaction: all or nothing, and a taken value fails the transaction.
/// </summary>
internal sealed class WorkflowTable(TableClient table)
{
    private const string InstancePrefix = "instance|";
    private const string CorrelationPrefix = "correlation|";
    private const string InstanceRangeEnd = "instance}"; // '}' follows '|': every instance RowKey sorts below it

    public async Task<(WorkflowInstance Instance, ETag ETag)?> GetInstanceAsync(string workflowName, string id, CancellationToken cancellationToken)
    {
        var response = await table.GetEntityIfExistsAsync<TableEntity>(
            KeyEncoding.Encode(workflowName), InstancePrefix + KeyEncoding.Encode(id), cancellationToken: cancellationToken).ConfigureAwait(false);
        return response.HasValue && response.Value is { } entity ? (ToInstance(entity), entity.ETag) : null;
    }

    public async Task<string?> GetCorrelatedIdAsync(string workflowName, string value, CancellationToken cancellationToken)
    {
        var response = await table.GetEntityIfExistsAsync<TableEntity>(
            KeyEncoding.Encode(workflowName), CorrelationPrefix + KeyEncoding.Encode(value), cancellationToken: cancellationToken).ConfigureAwait(false);
        return response.HasValue && response.Value is { } entity ? entity.GetString("InstanceId") : null;
    }

    /// <summary>Every instance of <paramref name="workflowName"/> (in <paramref name="status"/> when given): a query of
    /// the workflow's partition for RowKeys in the instance range ('instance|' up to 'instance}'), all pages.</summary>
    public async Task<List<WorkflowInstance>> QueryInstancesAsync(string workflowName, WorkflowStatus? status, CancellationToken cancellationToken)
    {
        var filter = status is { } wanted
            ? TableClient.CreateQueryFilter($"PartitionKey eq {KeyEncoding.Encode(workflowName)} and RowKey ge {InstancePrefix} and RowKey lt {InstanceRangeEnd} and Status eq {wanted.ToString()}")
            : TableClient.CreateQueryFilter($"PartitionKey eq {KeyEncoding.Encode(workflowName)} and RowKey ge {InstancePrefix} and RowKey lt {InstanceRangeEnd}");
        var instances = new List<WorkflowInstance>();
        await foreach (var entity in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            instances.Add(ToInstance(entity));
        }

        return instances;
    }

    /// <summary>Adds the instance (version 1) and reserves its correlation value in one transaction; false when either exists.</summary>
    public async Task<bool> InsertAsync(WorkflowInstance instance, CancellationToken cancellationToken)
    {
        var actions = new List<TableTransactionAction> { new(TableTransactionActionType.Add, ToEntity(instance, 1)) };
        if (instance.CorrelationValue is { } correlation)
        {
            actions.Add(new(TableTransactionActionType.Add, Reservation(instance.WorkflowName, correlation, instance.Id)));
        }

        return await SubmitAsync(actions, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Replaces the instance when its ETag is still <paramref name="etag"/>, moving its correlation reservation
    /// from <paramref name="oldCorrelation"/> in the same transaction; false when the ETag changed or the new value is taken.</summary>
    public async Task<bool> ReplaceAsync(
        WorkflowInstance instance, long version, ETag etag, string? oldCorrelation, CancellationToken cancellationToken)
    {
        var actions = new List<TableTransactionAction> { new(TableTransactionActionType.UpdateReplace, ToEntity(instance, version), etag) };
        if (oldCorrelation != instance.CorrelationValue)
        {
            if (oldCorrelation is not null)
            {
                actions.Add(new(TableTransactionActionType.Delete, Reservation(instance.WorkflowName, oldCorrelation, instance.Id), ETag.All));
            }

            if (instance.CorrelationValue is { } correlation)
            {
                actions.Add(new(TableTransactionActionType.Add, Reservation(instance.WorkflowName, correlation, instance.Id)));
            }
        }

        return await SubmitAsync(actions, cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> SubmitAsync(List<TableTransactionAction> actions, CancellationToken cancellationToken)
    {
        try
        {
            if (actions is [{ ActionType: TableTransactionActionType.Add } add])
            {
                await table.AddEntityAsync(add.Entity, cancellationToken).ConfigureAwait(false);
            }
            else if (actions is [{ ActionType: TableTransactionActionType.UpdateReplace } replace])
            {
                await table.UpdateEntityAsync(replace.Entity, replace.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
            }

            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412 or 404)
        {
            return false; // exists, changed, or gone
        }
    }

    private static TableEntity Reservation(string workflowName, string value, string id) =>
        new(KeyEncoding.Encode(workflowName), CorrelationPrefix + KeyEncoding.Encode(value)) { ["InstanceId"] = id };

    private static TableEntity ToEntity(WorkflowInstance instance, long version)
    {
        var entity = new TableEntity(KeyEncoding.Encode(instance.WorkflowName), InstancePrefix + KeyEncoding.Encode(instance.Id))
        {
            ["WorkflowName"] = instance.WorkflowName,
            ["Id"] = instance.Id,
            ["Version"] = version,
            ["Status"] = instance.Status.ToString(),
            ["CreatedAt"] = instance.CreatedAt.ToString("O", CultureInfo.InvariantCulture),
            ["UpdatedAt"] = instance.UpdatedAt.ToString("O", CultureInfo.InvariantCulture),
        };
        LargeText.Write(entity, "State", instance.StateJson);
        LargeText.Write(entity, "History", StoreJson.SerializeHistory(instance.History));
        if (instance.CorrelationValue is { } correlation)
        {
            entity["Correlation"] = correlation;
        }

        if (instance.FailureReason is { } reason)
        {
            entity["FailureReason"] = reason;
        }

        return entity;
    }

    private static WorkflowInstance ToInstance(TableEntity entity)
    {
        var name = entity.GetString("WorkflowName");
        var id = entity.GetString("Id");
        var statusText = entity.GetString("Status");
        if (!Enum.TryParse<WorkflowStatus>(statusText, ignoreCase: false, out var status) || !Enum.IsDefined(status))
        {
            throw new InvalidDataException($"Workflow '{name}' instance '{id}' has an unknown status '{statusText}' in Azure Table storage.");
        }

        return new WorkflowInstance(
            name,
            id,
            entity.GetString("Correlation"),
            entity.GetInt64("Version") ?? 0,
            status,
            LargeText.Read(entity, "State"),
            StoreJson.DeserializeHistory(LargeText.Read(entity, "History")),
            DateTimeOffset.Parse(entity.GetString("CreatedAt"), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind),
            DateTimeOffset.Parse(entity.GetString("UpdatedAt"), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind),
            entity.GetString("FailureReason"));
    }
}

using System.Globalization;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Bus.Storage;
using Bus.Workflows;

namespace Bus.DynamoDb.Workflows;

/// <summary>A correlation pointer: (workflow, correlation value) belongs to <paramref name="InstanceId"/> from its
/// version <paramref name="Version"/> on.</summary>
internal sealed record CorrelationPointer(string InstanceId, long Version);

/// <summary>
/// The items of the workflows table (partition key <c>pk</c>): one item per instance (<c>instance|…</c>, the state,
/// history and version) and one per correlation value in use (<c>correlation|…</c>, naming the instance that holds it).
/// Every write is conditional; none needs a transaction.
/// </summary>
internal sealed class WorkflowTable(IAmazonDynamoDB client, string tableName)
{
    private static readonly Dictionary<string, string> Names = new(StringComparer.Ordinal)
    {
        ["#pk"] = "pk", ["#v"] = "version", ["#c"] = "correlation", ["#i"] = "instanceId",
    };

    public async Task<WorkflowInstance?> GetInstanceAsync(string workflowName, string id, CancellationToken cancellationToken)
    {
        var response = await client.GetItemAsync(
            new GetItemRequest { TableName = tableName, Key = Key(InstanceKey(workflowName, id)), ConsistentRead = true },
            cancellationToken).ConfigureAwait(false);
        return response.IsItemSet && response.Item is { Count: > 0 } item ? ToInstance(item) : null;
    }

    public async Task<CorrelationPointer?> GetPointerAsync(string workflowName, string value, CancellationToken cancellationToken)
    {
        var response = await client.GetItemAsync(
            new GetItemRequest { TableName = tableName, Key = Key(PointerKey(workflowName, value)), ConsistentRead = true },
            cancellationToken).ConfigureAwait(false);
        return response.IsItemSet && response.Item is { Count: > 0 } item
            ? new CorrelationPointer(item["instanceId"].S, long.Parse(item["version"].N, CultureInfo.InvariantCulture))
            : null;
    }

    /// <summary>Every instance of <paramref name="workflowName"/> (in <paramref name="status"/> when given): a Scan of
    /// the table filtered on the instance key prefix, following every page. The table has no index by workflow name
    /// (adding one to a deployed table is the owner's change to make), and listing is an operator's occasional read.</summary>
    public async Task<List<WorkflowInstance>> ScanInstancesAsync(string workflowName, WorkflowStatus? status, CancellationToken cancellationToken)
    {
        var filter = "begins_with(#pk, :prefix)" + (status is null ? string.Empty : " AND #s = :status");
        var values = new Dictionary<string, AttributeValue>(StringComparer.Ordinal)
        {
            [":prefix"] = new AttributeValue { S = InstanceKey(workflowName, string.Empty) },
        };
        var names = new Dictionary<string, string>(StringComparer.Ordinal) { ["#pk"] = "pk" };
        if (status is { } wanted)
        {
            values[":status"] = new AttributeValue { S = wanted.ToString() };
            names["#s"] = "status";
        }

        var instances = new List<WorkflowInstance>();
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var response = await client.ScanAsync(
                new ScanRequest
                {
                    TableName = tableName,
                    FilterExpression = filter,
                    ExpressionAttributeNames = names,
                    ExpressionAttributeValues = values,
                    ExclusiveStartKey = start,
                    ConsistentRead = true,
                },
                cancellationToken).ConfigureAwait(false);
            instances.AddRange((response.Items ?? []).Select(ToInstance).Where(i => i.WorkflowName == workflowName));
            start = response.LastEvaluatedKey is { Count: > 0 } last ? last : null;
        }
        while (start is not null);

        return instances;
    }

    /// <summary>Writes a new instance at version 1; false when one with its id exists.</summary>
    public Task<bool> PutNewInstanceAsync(WorkflowInstance instance, CancellationToken cancellationToken) =>
        PutAsync(ToItem(instance, 1), "attribute_not_exists(#pk)", [], cancellationToken);

    /// <summary>Replaces the instance when its stored version is <paramref name="expectedVersion"/> and, when
    /// <paramref name="sameCorrelation"/>, its stored correlation value is the new one; false otherwise.</summary>
    public Task<bool> ReplaceInstanceAsync(WorkflowInstance instance, long expectedVersion, bool sameCorrelation, CancellationToken cancellationToken)
    {
        var condition = "#v = :expected";
        var values = new Dictionary<string, AttributeValue> { [":expected"] = Number(expectedVersion) };
        if (sameCorrelation)
        {
            if (instance.CorrelationValue is { } correlation)
            {
                condition += " AND #c = :c";
                values[":c"] = new AttributeValue { S = correlation };
            }
            else
            {
                condition += " AND attribute_not_exists(#c)";
            }
        }

        return PutAsync(ToItem(instance, expectedVersion + 1), condition, values, cancellationToken);
    }

    /// <summary>Deletes the instance when it is still at <paramref name="version"/> (undoing an insert).</summary>
    public Task<bool> DeleteInstanceAsync(string workflowName, string id, long version, CancellationToken cancellationToken) =>
        DeleteAsync(InstanceKey(workflowName, id), "#v = :v", new() { [":v"] = Number(version) }, cancellationToken);

    /// <summary>Points (workflow, value) at the instance when no pointer exists; false otherwise.</summary>
    public Task<bool> PutPointerIfAbsentAsync(string workflowName, string value, string id, long version, CancellationToken cancellationToken) =>
        PutAsync(PointerItem(workflowName, value, id, version), "attribute_not_exists(#pk)", [], cancellationToken);

    /// <summary>Replaces the pointer when it is still <paramref name="seen"/>; false otherwise.</summary>
    public Task<bool> ReplacePointerAsync(
        string workflowName, string value, string id, long version, CorrelationPointer seen, CancellationToken cancellationToken) =>
        PutAsync(
            PointerItem(workflowName, value, id, version),
            "#i = :seenId AND #v = :seenVersion",
            new() { [":seenId"] = new AttributeValue { S = seen.InstanceId }, [":seenVersion"] = Number(seen.Version) },
            cancellationToken);

    /// <summary>Deletes the pointer when the instance holds it (at <paramref name="version"/>, when given).</summary>
    public Task<bool> DeletePointerAsync(string workflowName, string value, string id, long? version, CancellationToken cancellationToken)
    {
        var values = new Dictionary<string, AttributeValue> { [":id"] = new AttributeValue { S = id } };
        var condition = "#i = :id";
        if (version is { } v)
        {
            condition += " AND #v = :v";
            values[":v"] = Number(v);
        }

        return DeleteAsync(PointerKey(workflowName, value), condition, values, cancellationToken);
    }

    private async Task<bool> PutAsync(
        Dictionary<string, AttributeValue> item, string condition, Dictionary<string, AttributeValue> values, CancellationToken cancellationToken)
    {
        try
        {
            await client.PutItemAsync(
                new PutItemRequest
                {
                    TableName = tableName,
                    Item = item,
                    ConditionExpression = condition,
                    ExpressionAttributeNames = Used(condition),
                    ExpressionAttributeValues = values.Count > 0 ? values : null,
                },
                cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ConditionalCheckFailedException)
        {
            return false;
        }
    }

    private async Task<bool> DeleteAsync(
        string key, string condition, Dictionary<string, AttributeValue> values, CancellationToken cancellationToken)
    {
        try
        {
            await client.DeleteItemAsync(
                new DeleteItemRequest
                {
                    TableName = tableName,
                    Key = Key(key),
                    ConditionExpression = condition,
                    ExpressionAttributeNames = Used(condition),
                    ExpressionAttributeValues = values,
                },
                cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ConditionalCheckFailedException)
        {
            return false;
        }
    }

    /// <summary>The placeholders a condition uses (DynamoDB rejects unused ones).</summary>
    private static Dictionary<string, string> Used(string condition) =>
        Names.Where(n => condition.Contains(n.Key, StringComparison.Ordinal)).ToDictionary(n => n.Key, n => n.Value, StringComparer.Ordinal);

    // Lengths make the keys unambiguous whatever characters a workflow name holds.
    internal static string InstanceKey(string workflowName, string id) =>
        string.Create(CultureInfo.InvariantCulture, $"instance|{workflowName.Length}|{workflowName}|{id}");

    internal static string PointerKey(string workflowName, string value) =>
        string.Create(CultureInfo.InvariantCulture, $"correlation|{workflowName.Length}|{workflowName}|{value}");

    private static Dictionary<string, AttributeValue> Key(string pk) => new(StringComparer.Ordinal) { ["pk"] = new AttributeValue { S = pk } };

    private static AttributeValue Number(long value) => new() { N = value.ToString(CultureInfo.InvariantCulture) };

    private static Dictionary<string, AttributeValue> PointerItem(string workflowName, string value, string id, long version) => new(StringComparer.Ordinal)
    {
        ["pk"] = new AttributeValue { S = PointerKey(workflowName, value) },
        ["instanceId"] = new AttributeValue { S = id },
        ["version"] = Number(version),
    };

    private static Dictionary<string, AttributeValue> ToItem(WorkflowInstance instance, long version)
    {
        var item = new Dictionary<string, AttributeValue>(StringComparer.Ordinal)
        {
            ["pk"] = new AttributeValue { S = InstanceKey(instance.WorkflowName, instance.Id) },
            ["workflow"] = new AttributeValue { S = instance.WorkflowName },
            ["id"] = new AttributeValue { S = instance.Id },
            ["version"] = Number(version),
            ["status"] = new AttributeValue { S = instance.Status.ToString() },
            ["state"] = new AttributeValue { S = instance.StateJson },
            ["history"] = new AttributeValue { S = StoreJson.SerializeHistory(instance.History) },
            ["createdAt"] = new AttributeValue { S = instance.CreatedAt.ToString("O", CultureInfo.InvariantCulture) },
            ["updatedAt"] = new AttributeValue { S = instance.UpdatedAt.ToString("O", CultureInfo.InvariantCulture) },
        };
        if (instance.CorrelationValue is { } correlation)
        {
            item["correlation"] = new AttributeValue { S = correlation };
        }

        if (instance.FailureReason is { } reason)
        {
            item["failureReason"] = new AttributeValue { S = reason };
        }

        return item;
    }

    private static WorkflowInstance ToInstance(Dictionary<string, AttributeValue> item)
    {
        var name = item["workflow"].S;
        var id = item["id"].S;
        var statusText = item["status"].S;
        if (!Enum.TryParse<WorkflowStatus>(statusText, ignoreCase: false, out var status) || !Enum.IsDefined(status))
        {
            throw new InvalidDataException($"Workflow '{name}' instance '{id}' has an unknown status '{statusText}' in DynamoDB.");
        }

        return new WorkflowInstance(
            name,
            id,
            item.TryGetValue("correlation", out var correlation) ? correlation.S : null,
            long.Parse(item["version"].N, CultureInfo.InvariantCulture),
            status,
            item["state"].S ?? string.Empty,
            StoreJson.DeserializeHistory(item["history"].S),
            DateTimeOffset.Parse(item["createdAt"].S, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind),
            DateTimeOffset.Parse(item["updatedAt"].S, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind),
            item.TryGetValue("failureReason", out var reason) ? reason.S : null);
    }
}

using System.Globalization;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Bus.DynamoDb.Provisioning;
using Bus.Jobs;

namespace Bus.DynamoDb.Jobs;

/// <summary>
/// The items of the jobs table: one per job (partition key <c>pk</c> = message id) with its type, state, progress,
/// attempt, last update (<c>updatedAt</c>, UTC ticks) and result. The index <see cref="Index"/> on state and last
/// update lists the jobs in a state, most recently updated first.
/// </summary>
internal sealed class JobTable(IAmazonDynamoDB client, string tableName)
{
    /// <summary>The index that lists jobs by state.</summary>
    public static readonly IndexSpec Index = new("state-updatedAt", "state", "updatedAt");

    /// <summary>Writes the job's status over whatever was stored for it.</summary>
    public Task PutAsync(JobStatus status, CancellationToken cancellationToken)
    {
        var item = new Dictionary<string, AttributeValue>(StringComparer.Ordinal)
        {
            ["pk"] = new AttributeValue { S = status.MessageId },
            ["messageType"] = new AttributeValue { S = status.MessageType },
            ["state"] = new AttributeValue { S = status.State.ToString() },
            ["done"] = Number(status.Done),
            ["total"] = Number(status.Total),
            ["attempt"] = Number(status.Attempt),
            ["updatedAt"] = Number(status.UpdatedAt.UtcTicks),
        };
        if (status.ResultJson is { } result)
        {
            item["result"] = new AttributeValue { S = result };
        }

        return client.PutItemAsync(new PutItemRequest { TableName = tableName, Item = item }, cancellationToken);
    }

    /// <summary>The job's status, read consistently, or null.</summary>
    public async Task<JobStatus?> GetAsync(string messageId, CancellationToken cancellationToken)
    {
        var response = await client.GetItemAsync(
            new GetItemRequest
            {
                TableName = tableName,
                Key = new(StringComparer.Ordinal) { ["pk"] = new AttributeValue { S = messageId } },
                ConsistentRead = true,
            },
            cancellationToken).ConfigureAwait(false);
        return response.IsItemSet && response.Item is { Count: > 0 } item ? Read(item) : null;
    }

    /// <summary>Jobs in <paramref name="state"/>, most recently updated first, at most <paramref name="max"/>.</summary>
    public async Task<IReadOnlyList<JobStatus>> ListAsync(JobState state, int max, CancellationToken cancellationToken)
    {
        var statuses = new List<JobStatus>();
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var response = await client.QueryAsync(
                new QueryRequest
                {
                    TableName = tableName,
                    IndexName = Index.Name,
                    KeyConditionExpression = "#state = :state",
                    ExpressionAttributeNames = new(StringComparer.Ordinal) { ["#state"] = Index.PartitionKey },
                    ExpressionAttributeValues = new(StringComparer.Ordinal) { [":state"] = new AttributeValue { S = state.ToString() } },
                    ScanIndexForward = false,
                    Limit = max - statuses.Count,
                    ExclusiveStartKey = start,
                },
                cancellationToken).ConfigureAwait(false);
            statuses.AddRange((response.Items ?? []).Select(Read));
            start = response.LastEvaluatedKey is { Count: > 0 } last ? last : null;
        }
        while (start is not null && statuses.Count < max);

        return statuses;
    }

    private static JobStatus Read(Dictionary<string, AttributeValue> item) => new(
        item["pk"].S,
        item["messageType"].S,
        Enum.Parse<JobState>(item["state"].S),
        long.Parse(item["done"].N, CultureInfo.InvariantCulture),
        long.Parse(item["total"].N, CultureInfo.InvariantCulture),
        int.Parse(item["attempt"].N, CultureInfo.InvariantCulture),
        new DateTimeOffset(long.Parse(item["updatedAt"].N, CultureInfo.InvariantCulture), TimeSpan.Zero),
        item.TryGetValue("result", out var result) ? result.S : null);

    private static AttributeValue Number(long value) => new() { N = value.ToString(CultureInfo.InvariantCulture) };
}

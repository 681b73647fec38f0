using System.Globalization;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;

namespace Bus.DynamoDb.Steps;

/// <summary>A job seen by a retention sweep: its latest finish and how many steps it had numbered then.</summary>
internal sealed record JobMark(string JobId, long LatestTicks, long Sequence);

/// <summary>
/// The items of the steps table (partition key <c>pk</c> = job id, sort key <c>sk</c>): one item per finished step
/// (<c>step|name</c>: result, finish order, time) and one per job (<c>job</c>: the step counter and the latest finish,
/// which retention reads). Optional <c>expiresAt</c> (epoch seconds) for DynamoDB's time to live.
/// </summary>
internal sealed class StepTable(IAmazonDynamoDB client, string tableName)
{
    public const string TimeToLiveAttribute = "expiresAt";
    private const string JobSortKey = "job";
    private const string StepPrefix = "step|";

    public async Task<string?> GetResultAsync(string jobId, string stepName, CancellationToken cancellationToken)
    {
        var response = await client.GetItemAsync(
            new GetItemRequest
            {
                TableName = tableName,
                Key = Key(jobId, StepPrefix + stepName),
                ConsistentRead = true,
                ProjectionExpression = "#r",
                ExpressionAttributeNames = new() { ["#r"] = "result" },
            },
            cancellationToken).ConfigureAwait(false);
        return response.IsItemSet && response.Item is { Count: > 0 } item && item.TryGetValue("result", out var result) ? result.S ?? string.Empty : null;
    }

    /// <summary>Numbers the next step of the job and records when it finished (the job item is created on first use).</summary>
    public async Task<long> NextSequenceAsync(string jobId, DateTimeOffset at, long? expiresAt, CancellationToken cancellationToken)
    {
        var update = "ADD #n :one SET #l = :at";
        var values = new Dictionary<string, AttributeValue>(StringComparer.Ordinal)
        {
            [":one"] = Number(1), [":at"] = Number(at.UtcTicks),
        };
        var names = new Dictionary<string, string>(StringComparer.Ordinal) { ["#n"] = "nextSeq", ["#l"] = "latest" };
        if (expiresAt is { } expires)
        {
            update += ", #e = :e";
            values[":e"] = Number(expires);
            names["#e"] = TimeToLiveAttribute;
        }

        var response = await client.UpdateItemAsync(
            new UpdateItemRequest
            {
                TableName = tableName,
                Key = Key(jobId, JobSortKey),
                UpdateExpression = update,
                ExpressionAttributeNames = names,
                ExpressionAttributeValues = values,
                ReturnValues = ReturnValue.UPDATED_NEW,
            },
            cancellationToken).ConfigureAwait(false);
        return long.Parse(response.Attributes["nextSeq"].N, CultureInfo.InvariantCulture);
    }

    /// <summary>Stores a finished step unless it is stored already (the first result wins).</summary>
    public async Task PutStepIfAbsentAsync(
        string jobId, string stepName, string resultJson, long sequence, DateTimeOffset at, long? expiresAt, CancellationToken cancellationToken)
    {
        var item = new Dictionary<string, AttributeValue>(StringComparer.Ordinal)
        {
            ["pk"] = new AttributeValue { S = jobId },
            ["sk"] = new AttributeValue { S = StepPrefix + stepName },
            ["result"] = new AttributeValue { S = resultJson },
            ["seq"] = Number(sequence),
            ["finishedAt"] = new AttributeValue { S = at.ToString("O", CultureInfo.InvariantCulture) },
        };
        if (expiresAt is { } expires)
        {
            item[TimeToLiveAttribute] = Number(expires);
        }

        try
        {
            await client.PutItemAsync(
                new PutItemRequest
                {
                    TableName = tableName,
                    Item = item,
                    ConditionExpression = "attribute_not_exists(#sk)",
                    ExpressionAttributeNames = new() { ["#sk"] = "sk" },
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (ConditionalCheckFailedException)
        {
            // Finished before (or by a racing copy): the first result stays.
        }
    }

    /// <summary>The job's steps as (name, sequence), in no particular order.</summary>
    public async Task<List<(string Name, long Sequence)>> ListStepsAsync(string jobId, CancellationToken cancellationToken)
    {
        var steps = new List<(string, long)>();
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var response = await client.QueryAsync(
                new QueryRequest
                {
                    TableName = tableName,
                    ConsistentRead = true,
                    KeyConditionExpression = "#pk = :job AND begins_with(#sk, :prefix)",
                    ProjectionExpression = "#sk, #seq",
                    ExpressionAttributeNames = new() { ["#pk"] = "pk", ["#sk"] = "sk", ["#seq"] = "seq" },
                    ExpressionAttributeValues = new()
                    {
                        [":job"] = new AttributeValue { S = jobId }, [":prefix"] = new AttributeValue { S = StepPrefix },
                    },
                    ExclusiveStartKey = start,
                },
                cancellationToken).ConfigureAwait(false);
            foreach (var item in response.Items ?? [])
            {
                steps.Add((item["sk"].S[StepPrefix.Length..], long.Parse(item["seq"].N, CultureInfo.InvariantCulture)));
            }

            start = response.LastEvaluatedKey is { Count: > 0 } last ? last : null;
        }
        while (start is not null);

        return steps;
    }

    /// <summary>The jobs whose latest step finished before <paramref name="cutoff"/>. A scan: DynamoDB has no cheaper
    /// way to find them without a hot index partition; it runs once per retention interval.</summary>
    public async IAsyncEnumerable<JobMark> ScanJobsFinishedBeforeAsync(
        DateTimeOffset cutoff, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var response = await client.ScanAsync(
                new ScanRequest
                {
                    TableName = tableName,
                    ConsistentRead = true,
                    FilterExpression = "#sk = :job AND #l < :cutoff",
                    ProjectionExpression = "#pk, #l, #n",
                    ExpressionAttributeNames = new() { ["#pk"] = "pk", ["#sk"] = "sk", ["#l"] = "latest", ["#n"] = "nextSeq" },
                    ExpressionAttributeValues = new()
                    {
                        [":job"] = new AttributeValue { S = JobSortKey }, [":cutoff"] = Number(cutoff.UtcTicks),
                    },
                    ExclusiveStartKey = start,
                },
                cancellationToken).ConfigureAwait(false);
            foreach (var item in response.Items ?? [])
            {
                yield return new JobMark(
                    item["pk"].S,
                    long.Parse(item["latest"].N, CultureInfo.InvariantCulture),
                    long.Parse(item["nextSeq"].N, CultureInfo.InvariantCulture));
            }

            start = response.LastEvaluatedKey is { Count: > 0 } last ? last : null;
        }
        while (start is not null);
    }

    /// <summary>Deletes the job item when no step was numbered since <paramref name="mark"/> was read; false when one was
    /// (the job is running again and keeps its steps).</summary>
    public async Task<bool> DeleteJobIfUnchangedAsync(JobMark mark, CancellationToken cancellationToken)
    {
        try
        {
            await client.DeleteItemAsync(
                new DeleteItemRequest
                {
                    TableName = tableName,
                    Key = Key(mark.JobId, JobSortKey),
                    ConditionExpression = "#l = :l AND #n = :n",
                    ExpressionAttributeNames = new() { ["#l"] = "latest", ["#n"] = "nextSeq" },
                    ExpressionAttributeValues = new() { [":l"] = Number(mark.LatestTicks), [":n"] = Number(mark.Sequence) },
                },
                cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ConditionalCheckFailedException)
        {
            return false;
        }
    }

    /// <summary>Deletes the given steps of a job (25 per batch, unprocessed ones again) and returns how many.</summary>
    public async Task<int> DeleteStepsAsync(string jobId, IReadOnlyList<string> stepNames, CancellationToken cancellationToken)
    {
        foreach (var chunk in stepNames.Chunk(25))
        {
            var pending = chunk
                .Select(name => new WriteRequest(new DeleteRequest(Key(jobId, StepPrefix + name))))
                .ToList();
            for (var round = 0; pending.Count > 0; round++)
            {
                if (round > 0)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 50 << Math.Min(round, 5))), cancellationToken).ConfigureAwait(false);
                }

                var response = await client.BatchWriteItemAsync(
                    new BatchWriteItemRequest { RequestItems = new() { [tableName] = pending } },
                    cancellationToken).ConfigureAwait(false);
                pending = response.UnprocessedItems is { } left && left.TryGetValue(tableName, out var again) ? again : [];
            }
        }

        return stepNames.Count;
    }

    private static Dictionary<string, AttributeValue> Key(string jobId, string sortKey) => new(StringComparer.Ordinal)
    {
        ["pk"] = new AttributeValue { S = jobId }, ["sk"] = new AttributeValue { S = sortKey },
    };

    private static AttributeValue Number(long value) => new() { N = value.ToString(CultureInfo.InvariantCulture) };
}

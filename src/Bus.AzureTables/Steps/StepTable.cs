using Azure;
using Azure.Data.Tables;
using Bus.AzureTables.Entities;

namespace Bus.AzureTables.Steps;

/// <summary>A job seen by a retention sweep: its job entity's ETag and how many steps it had numbered then.</summary>
internal sealed record JobMark(string PartitionKey, ETag ETag, long Sequence);

/// <summary>
/// The entities of the steps table: a partition per job (the job id) with one entity per finished step
/// (<c>step|name</c>: result, finish order, time) and a job entity (<c>job</c>: the step counter and the latest
/// finish, which retention reads). A step and the job entity are written in one entity group transaction,
/// conditional on the job entity's ETag, so steps are numbered in the order they finished.
/// </summary>
internal sealed class StepTable(TableClient table)
{
    private const string JobRowKey = "job";
    private const string StepPrefix = "step|";
    private const int MaxTransactionActions = 100;

    public async Task<string?> GetResultAsync(string jobId, string stepName, CancellationToken cancellationToken)
    {
        var response = await table.GetEntityIfExistsAsync<TableEntity>(
            KeyEncoding.Encode(jobId), StepPrefix + KeyEncoding.Encode(stepName), cancellationToken: cancellationToken).ConfigureAwait(false);
        return response.HasValue && response.Value is { } entity ? LargeText.Read(entity, "Result") : null;
    }

    /// <summary>Stores the step as the job's next one. False when the job entity changed since it was read (another step
    /// finished at the same time) or the step exists: read and try again.</summary>
    public async Task<bool> TryAddStepAsync(string jobId, string stepName, string resultJson, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var partition = KeyEncoding.Encode(jobId);
        var job = await table.GetEntityIfExistsAsync<TableEntity>(partition, JobRowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        var sequence = (job.HasValue && job.Value is { } current ? current.GetInt64("Sequence") ?? 0 : 0) + 1;
        var step = new TableEntity(partition, StepPrefix + KeyEncoding.Encode(stepName))
        {
            ["Sequence"] = sequence,
            ["FinishedAt"] = at,
        };
        LargeText.Write(step, "Result", resultJson);
        var jobEntity = new TableEntity(partition, JobRowKey) { ["Sequence"] = sequence, ["Latest"] = at.UtcTicks };
        TableTransactionAction[] actions =
        [
            new(TableTransactionActionType.Add, step),
            job.HasValue && job.Value is { } existing
                ? new(TableTransactionActionType.UpdateReplace, jobEntity, existing.ETag)
                : new(TableTransactionActionType.Add, jobEntity),
        ];
        try
        {
            await table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412 or 404)
        {
            return false;
        }
    }

    /// <summary>The job's steps as (row key, name, sequence), in no particular order.</summary>
    public async Task<List<(string RowKey, string Name, long Sequence)>> ListStepsAsync(string jobId, CancellationToken cancellationToken)
    {
        var partition = KeyEncoding.Encode(jobId);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {StepPrefix} and RowKey lt {"step}"}");
        var steps = new List<(string, string, long)>();
        await foreach (var entity in table.QueryAsync<TableEntity>(filter, select: ["RowKey", "Sequence"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            steps.Add((entity.RowKey, KeyEncoding.Decode(entity.RowKey[StepPrefix.Length..]), entity.GetInt64("Sequence") ?? 0));
        }

        return steps;
    }

    /// <summary>The jobs whose latest step finished before <paramref name="cutoff"/>: a query across partitions (Table
    /// storage has no secondary index), run once per retention interval.</summary>
    public async IAsyncEnumerable<JobMark> JobsFinishedBeforeAsync(
        DateTimeOffset cutoff, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter($"RowKey eq {JobRowKey} and Latest lt {cutoff.UtcTicks}");
        await foreach (var entity in table.QueryAsync<TableEntity>(filter, select: ["PartitionKey", "Sequence"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            yield return new JobMark(entity.PartitionKey, entity.ETag, entity.GetInt64("Sequence") ?? 0);
        }
    }

    /// <summary>Deletes the job entity, when unchanged since <paramref name="mark"/> was read, with the given steps, in
    /// transactions of up to 100; returns how many steps went, or -1 when the job changed (it keeps its steps).</summary>
    public async Task<int> DeleteJobAsync(JobMark mark, IReadOnlyList<string> stepRowKeys, CancellationToken cancellationToken)
    {
        var first = true;
        var deleted = 0;
        foreach (var chunk in stepRowKeys.Prepend(JobRowKey).Chunk(MaxTransactionActions))
        {
            var actions = chunk
                .Select(rowKey => rowKey == JobRowKey && first
                    ? new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(mark.PartitionKey, rowKey), mark.ETag)
                    : new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(mark.PartitionKey, rowKey), ETag.All))
                .ToList();
            try
            {
                await table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException e) when (first && e.Status is 412 or 404)
            {
                return -1;
            }

            deleted += first ? actions.Count - 1 : actions.Count;
            first = false;
        }

        return deleted;
    }
}

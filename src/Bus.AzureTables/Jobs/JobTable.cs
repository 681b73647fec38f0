using Azure.Data.Tables;
using Bus.AzureTables.Entities;
using Bus.Jobs;

namespace Bus.AzureTables.Jobs;

/// <summary>
/// The entities of the jobs table: a partition per job (its message id, escaped) holding one entity (<c>status</c>)
/// with its type, state, progress, attempt, last update (<c>UpdatedAt</c>, UTC ticks) and result (split over
/// properties when long; absent when none).
/// </summary>
internal sealed class JobTable(TableClient table)
{
    private const string StatusRowKey = "status";

    /// <summary>Writes the job's status over whatever was stored for it (every property replaced).</summary>
    public Task UpsertAsync(JobStatus status, CancellationToken cancellationToken)
    {
        var entity = new TableEntity(KeyEncoding.Encode(status.MessageId), StatusRowKey)
        {
            ["MessageType"] = status.MessageType,
            ["State"] = status.State.ToString(),
            ["Done"] = status.Done,
            ["Total"] = status.Total,
            ["Attempt"] = status.Attempt,
            ["UpdatedAt"] = status.UpdatedAt.UtcTicks,
        };
        if (status.ResultJson is { } result)
        {
            LargeText.Write(entity, "Result", result);
        }

        return table.UpsertEntityAsync(entity, TableUpdateMode.Replace, cancellationToken);
    }

    /// <summary>The job's status, or null.</summary>
    public async Task<JobStatus?> GetAsync(string messageId, CancellationToken cancellationToken)
    {
        var response = await table.GetEntityIfExistsAsync<TableEntity>(KeyEncoding.Encode(messageId), StatusRowKey, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        return response.HasValue && response.Value is { } entity ? Read(entity) : null;
    }

    /// <summary>The jobs in <paramref name="state"/> as (message id, last update), in no particular order: a query across
    /// partitions that reads two properties of each.</summary>
    public async Task<List<(string MessageId, long UpdatedAt)>> FindAsync(JobState state, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter($"RowKey eq {StatusRowKey} and State eq {state.ToString()}");
        var found = new List<(string, long)>();
        await foreach (var entity in table.QueryAsync<TableEntity>(filter, select: ["PartitionKey", "UpdatedAt"], cancellationToken: cancellationToken)
                           .ConfigureAwait(false))
        {
            found.Add((KeyEncoding.Decode(entity.PartitionKey), entity.GetInt64("UpdatedAt") ?? 0));
        }

        return found;
    }

    private static JobStatus Read(TableEntity entity) => new(
        KeyEncoding.Decode(entity.PartitionKey),
        entity.GetString("MessageType") ?? string.Empty,
        Enum.Parse<JobState>(entity.GetString("State")!),
        entity.GetInt64("Done") ?? 0,
        entity.GetInt64("Total") ?? 0,
        entity.GetInt32("Attempt") ?? 0,
        new DateTimeOffset(entity.GetInt64("UpdatedAt") ?? 0, TimeSpan.Zero),
        entity.ContainsKey("ResultParts") ? LargeText.Read(entity, "Result") : null);
}

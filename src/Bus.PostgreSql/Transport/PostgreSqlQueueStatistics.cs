using Bus.Transports;

namespace Bus.PostgreSql.Transport;

/// <summary>Queue counts from the tables: one aggregate over a queue's rows in <c>messages</c> and a count of its
/// <c>dead_letters</c>, read in one statement (one snapshot).</summary>
internal sealed class PostgreSqlQueueStatistics(PostgreSqlTransport transport) : IQueueStatistics
{
    private const string CountsSql =
        """
        SELECT count(*) FILTER (WHERE visible_at <= @now),
               count(*) FILTER (WHERE visible_at > @now AND lease_token IS NOT NULL),
               count(*) FILTER (WHERE visible_at > @now AND lease_token IS NULL),
               min(enqueued_at) FILTER (WHERE visible_at <= @now OR lease_token IS NOT NULL),
               (SELECT count(*) FROM {schema}.dead_letters WHERE queue = @queue)
          FROM {schema}.messages
         WHERE queue = @queue;
        """;

    private const string QueuesSql =
        """
        SELECT name FROM {schema}.queues
        UNION SELECT DISTINCT queue FROM {schema}.messages
        UNION SELECT DISTINCT queue FROM {schema}.dead_letters
        ORDER BY 1;
        """;

    public async Task<IReadOnlyList<string>> ListQueuesAsync(CancellationToken cancellationToken)
    {
        transport.ThrowIfDisposed();
        var database = transport.Table.Database;
        await using var connection = await transport.Table.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var select = database.Command(connection, null, QueuesSql);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var queues = new List<string>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            queues.Add(reader.GetString(0));
        }

        return queues;
    }

    public async Task<QueueStatistics> GetAsync(string queue, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        transport.ThrowIfDisposed();
        var now = transport.Time.GetUtcNow();
        var database = transport.Table.Database;
        await using var connection = await transport.Table.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var count = database.Command(connection, null, CountsSql);
        count.Parameters.AddWithValue("queue", queue);
        count.Parameters.AddWithValue("now", now.UtcTicks);
        await using var reader = await count.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        TimeSpan? age = reader.IsDBNull(3) ? null : now - new DateTimeOffset(reader.GetFieldValue<DateTime>(3), TimeSpan.Zero);
        return new QueueStatistics(queue, reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(4), age, now);
    }
}

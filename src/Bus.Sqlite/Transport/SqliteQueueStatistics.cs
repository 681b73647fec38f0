using Bus.Sqlite.Schema;
using Bus.Transports;
using Microsoft.Data.Sqlite;

namespace Bus.Sqlite.Transport;

/// <summary>Queue counts from the tables: one aggregate over a queue's rows in <c>bus_messages</c> and a count of its
/// <c>bus_dead_letters</c>, read in one snapshot (a WAL reader takes no lock).</summary>
internal sealed class SqliteQueueStatistics(SqliteTransport transport) : IQueueStatistics
{
    private const string CountsSql =
        """
        SELECT COALESCE(SUM(visible_at <= $now), 0),
               COALESCE(SUM(visible_at > $now AND lease_token IS NOT NULL), 0),
               COALESCE(SUM(visible_at > $now AND lease_token IS NULL), 0),
               MIN(CASE WHEN visible_at <= $now OR lease_token IS NOT NULL THEN enqueued_at END),
               (SELECT COUNT(*) FROM bus_dead_letters WHERE queue = $queue)
          FROM bus_messages
         WHERE queue = $queue;
        """;

    private const string QueuesSql =
        """
        SELECT name FROM bus_queues
        UNION SELECT DISTINCT queue FROM bus_messages
        UNION SELECT DISTINCT queue FROM bus_dead_letters
        ORDER BY 1;
        """;

    public async Task<IReadOnlyList<string>> ListQueuesAsync(CancellationToken cancellationToken)
    {
        transport.ThrowIfDisposed();
        await using var connection = await transport.Table.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var select = Sql.Command(connection, null, QueuesSql);
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
        await using var connection = await transport.Table.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var count = Sql.Command(connection, null, CountsSql);
        count.Parameters.AddWithValue("$queue", queue);
        count.Parameters.AddWithValue("$now", now.UtcTicks);
        await using var reader = await count.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        TimeSpan? age = reader.IsDBNull(3) ? null : now - new DateTimeOffset(reader.GetInt64(3), TimeSpan.Zero);
        return new QueueStatistics(queue, reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(4), age, now);
    }
}

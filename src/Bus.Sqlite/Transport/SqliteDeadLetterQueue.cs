using System.Globalization;
using System.Text;
using Bus.Storage;
using Bus.Sqlite.Schema;
using Bus.Transports;
using Microsoft.Data.Sqlite;

namespace Bus.Sqlite.Transport;

/// <summary>The dead letters in the <c>bus_dead_letters</c> table: peek, list with filters (in SQL, paged by row id),
/// redrive and purge, all or chosen ids.</summary>
internal sealed class SqliteDeadLetterQueue(SqliteTransport transport) : IDeadLetterQueue
{
    public async Task<IReadOnlyList<DeadLetter>> PeekAsync(string queue, int maxCount, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        transport.ThrowIfDisposed();
        var messages = await transport.Table.PeekDeadLettersAsync(queue, maxCount, cancellationToken).ConfigureAwait(false);
        return messages.Select(m => FailureDetails.Read(m, queue)).ToList();
    }

    public async Task<DeadLetterPage> ListAsync(string queue, DeadLetterQuery query, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        transport.ThrowIfDisposed();
        var after = ReadToken(query.ContinuationToken);
        var (sql, bind) = Filter(query);

        // SQL narrows (type, time, ids, an ASCII case-insensitive LIKE on the reason); the query confirms the reason.
        var confirm = query with { FailedFrom = null, FailedBefore = null };
        await using var connection = await transport.Table.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var select = Sql.Command(connection, null, sql);
        select.Parameters.AddWithValue("$queue", queue);
        bind(select);
        var afterId = select.Parameters.Add("$after", SqliteType.Integer);
        select.Parameters.AddWithValue("$limit", query.PageSize + 1);
        var page = new List<DeadLetter>();
        while (true)
        {
            afterId.Value = after;
            var rows = 0;
            await using (var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    rows++;
                    if (page.Count == query.PageSize)
                    {
                        return new DeadLetterPage(page, Token(after));
                    }

                    after = reader.GetInt64(0);
                    var letter = FailureDetails.Read(MessageTable.ReadMessage(reader, messageIdOrdinal: 1, headersOrdinal: 2, bodyOrdinal: 3), queue);
                    if (confirm.Matches(letter))
                    {
                        page.Add(letter);
                    }
                }
            }

            if (rows <= query.PageSize)
            {
                return new DeadLetterPage(page, null);
            }
        }

        static long ReadToken(string? token) =>
            token is null ? 0
            : token.StartsWith("r:", StringComparison.Ordinal) && long.TryParse(token.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id
            : throw new ArgumentException($"The continuation token '{token}' was not made by the SQLite dead-letter queue; pass the token of its previous page, or none for the first page.", nameof(query));

        static string Token(long id) => string.Create(CultureInfo.InvariantCulture, $"r:{id}");
    }

    /// <summary>The SELECT for a query's filters, and how to bind its parameters.</summary>
    private static (string Sql, Action<SqliteCommand> Bind) Filter(DeadLetterQuery query)
    {
        var sql = new StringBuilder("SELECT id, message_id, headers, body FROM bus_dead_letters WHERE queue = $queue AND id > $after");
        var binds = new List<Action<SqliteCommand>>();
        if (query.MessageTypes is { } types)
        {
            sql.Append(" AND json_extract(headers, '$.\"").Append(MessageHeaders.MessageType).Append("\"') IN (SELECT value FROM json_each($types))");
            binds.Add(c => c.Parameters.AddWithValue("$types", StoreJson.SerializeStrings(types)));
        }

        if (query.ReasonContains is { Length: > 0 } reason)
        {
            sql.Append(" AND json_extract(headers, '$.\"").Append(MessageHeaders.FailureReason).Append("\"') LIKE $reason ESCAPE '\\'");
            var pattern = "%" + reason.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";
            binds.Add(c => c.Parameters.AddWithValue("$reason", pattern));
        }

        if (query.FailedFrom is { } from)
        {
            sql.Append(" AND failed_at >= $from");
            binds.Add(c => c.Parameters.AddWithValue("$from", from.UtcTicks));
        }

        if (query.FailedBefore is { } before)
        {
            sql.Append(" AND failed_at < $before");
            binds.Add(c => c.Parameters.AddWithValue("$before", before.UtcTicks));
        }

        if (query.MessageIds is { } ids)
        {
            sql.Append(" AND message_id IN (SELECT value FROM json_each($ids))");
            binds.Add(c => c.Parameters.AddWithValue("$ids", StoreJson.SerializeStrings(ids)));
        }

        sql.Append(" ORDER BY id LIMIT $limit;");
        return (sql.ToString(), command =>
        {
            foreach (var bind in binds)
            {
                bind(command);
            }
        });
    }

    public async Task<int> RedriveAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        transport.ThrowIfDisposed();
        var moved = await transport.Table.RedriveAsync(queue, messageIds, transport.Time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        if (moved > 0)
        {
            transport.Signals.Notify(queue);
        }

        return moved;
    }

    public Task<int> PurgeAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        transport.ThrowIfDisposed();
        return transport.Table.PurgeAsync(queue, messageIds, cancellationToken);
    }
}

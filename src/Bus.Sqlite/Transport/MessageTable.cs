using System.Runtime.InteropServices;
using Bus.Storage;
using Bus.Sqlite.Schema;
using Bus.Transports;
using Microsoft.Data.Sqlite;

namespace Bus.Sqlite.Transport;

/// <summary>The SQL of the transport: messages with row leases, subscriptions and dead letters. Reads use pooled
/// connections; every write goes through the <see cref="WriteQueue"/> (one connection, writes that queue up committed
/// together).</summary>
internal sealed class MessageTable : IAsyncDisposable
{
    private const string InsertSql =
        """
        INSERT INTO bus_messages (queue, message_id, headers, body, visible_at, receive_count, enqueued_at, priority)
        VALUES ($queue, $message_id, $headers, $body, $visible_at, 0, $now, $priority);
        """;

    /// <summary>Every priority, highest first: with the index on (queue, priority DESC, visible_at, id) the claim and the
    /// next due time take one index seek per priority instead of scanning delayed rows.</summary>
    private const string AnyPriority = "priority IN (9, 8, 7, 6, 5, 4, 3, 2, 1, 0)";

    private const string NextVisibleAtSql = $"SELECT MIN(visible_at) FROM bus_messages WHERE queue = $queue AND {AnyPriority};";

    private int _queuedCompletions;

    public MessageTable(SqliteDatabase database)
    {
        Database = database;
        Writes = new WriteQueue(OpenWriterAsync, database.Synchronous);
    }

    public SqliteDatabase Database { get; }

    /// <summary>The queue every write of this table runs on.</summary>
    public WriteQueue Writes { get; }

    /// <summary>Runs the writes already queued and closes the write connection.</summary>
    public ValueTask DisposeAsync() => Writes.DisposeAsync();

    /// <summary>Opens a pooled connection to read the tables, after the completions queued by this process
    /// (<see cref="QueueCompletion"/>) have committed, so a read never finds a message its handler already finished.</summary>
    public async Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _queuedCompletions) > 0)
        {
            // The queue runs in order: once this empty write committed, so did every completion queued before it.
            await Writes.RunAsync(static (_, _) => Task.FromResult(true), cancellationToken, flush: false).ConfigureAwait(false);
        }

        return await OpenReaderUnorderedAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens a pooled connection to read the tables, without waiting for queued completions.</summary>
    private async Task<SqliteConnection> OpenReaderUnorderedAsync(CancellationToken cancellationToken)
    {
        await Database.EnsureSchemaAsync(Migrations.TransportComponent, Migrations.Transport, cancellationToken).ConfigureAwait(false);
        return await Database.OpenReaderAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<SqliteConnection> OpenWriterAsync(CancellationToken cancellationToken)
    {
        await Database.EnsureSchemaAsync(Migrations.TransportComponent, Migrations.Transport, cancellationToken).ConfigureAwait(false);
        return await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task ProvisionAsync(TransportTopology topology, DateTimeOffset now, CancellationToken cancellationToken) =>
        Writes.RunAsync((write, ct) => ProvisionAsync(write, topology, now, ct), cancellationToken);

    private static async Task<bool> ProvisionAsync(
        WriteConnection write, TransportTopology topology, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var queue = write.Command("INSERT INTO bus_queues (name, created_at) VALUES ($name, $now) ON CONFLICT (name) DO NOTHING;");
        queue.Parameters.AddWithValue("$name", topology.InputQueue);
        queue.Parameters.AddWithValue("$now", now.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        await queue.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);

        var subscribe = write.Command("INSERT INTO bus_subscriptions (topic, queue) VALUES ($topic, $queue) ON CONFLICT DO NOTHING;");
        var topic = subscribe.Parameters.Add("$topic", SqliteType.Text);
        subscribe.Parameters.AddWithValue("$queue", topology.InputQueue);
        foreach (var name in topology.Subscriptions.Distinct(StringComparer.Ordinal))
        {
            topic.Value = name;
            await subscribe.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>Stores every message in one transaction (all or none) and returns the queues written to.</summary>
    public Task<HashSet<string>> SendAsync(
        IReadOnlyList<OutgoingMessage> messages, DateTimeOffset now, CancellationToken cancellationToken) =>
        Writes.RunAsync((write, ct) => SendAsync(write, messages, now, ct), cancellationToken);

    private static async Task<HashSet<string>> SendAsync(
        WriteConnection write, IReadOnlyList<OutgoingMessage> messages, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var touched = new HashSet<string>(StringComparer.Ordinal);
        var subscribers = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var insert = CreateInsert(write, now);
        foreach (var outgoing in messages)
        {
            IReadOnlyList<string> queues = outgoing.Destination.Kind == DestinationKind.Queue
                ? [outgoing.Destination.Name]
                : await SubscribersAsync(write, outgoing.Destination.Name, subscribers, cancellationToken).ConfigureAwait(false);
            var visibleAt = outgoing.VisibleAt is { } at && at > now ? at : now;
            var messageId = outgoing.Message.MessageId ?? Guid.NewGuid().ToString();
            foreach (var queue in queues)
            {
                await InsertAsync(insert, queue, messageId, outgoing.Message, visibleAt, cancellationToken).ConfigureAwait(false);
                touched.Add(queue);
            }
        }

        return touched;
    }

    /// <summary>Leases up to <paramref name="max"/> visible messages, or returns none and when the next one becomes visible.
    /// Each row's receive count is the attempt its delivery would be; it is stored only when the attempt begins
    /// (<see cref="BeginAttemptAsync(long, string, int, CancellationToken)"/>), so a message taken by a worker that dies before starting it keeps its count.</summary>
    public async Task<(List<LeasedRow> Rows, DateTimeOffset? NextVisibleAt)> TakeAsync(
        string queue, int max, DateTimeOffset now, DateTimeOffset leaseExpiresAt, CancellationToken cancellationToken)
    {
        // A cheap read first (WAL readers take no lock), so idle receivers do not queue up for the write lock. A row whose
        // completion is still queued reads as leased, which is as good as gone here: no barrier.
        DateTimeOffset? next;
        await using (var connection = await OpenReaderUnorderedAsync(cancellationToken).ConfigureAwait(false))
        {
            await using var read = Sql.Command(connection, null, NextVisibleAtSql);
            next = await NextVisibleAtAsync(read, queue, cancellationToken).ConfigureAwait(false);
        }

        if (next is null || next > now)
        {
            return ([], next);
        }

        return await Writes.RunAsync(
            (write, ct) => TakeAsync(write, queue, max, now, leaseExpiresAt, ct),
            cancellationToken,
            flush: false).ConfigureAwait(false);
    }

    private static async Task<(List<LeasedRow> Rows, DateTimeOffset? NextVisibleAt)> TakeAsync(
        WriteConnection write, string queue, int max, DateTimeOffset now, DateTimeOffset leaseExpiresAt,
        CancellationToken cancellationToken)
    {
        DateTimeOffset? next = null;
        var token = Guid.NewGuid().ToString("N");
        var rows = new List<LeasedRow>();
        var take = write.Command("""
            UPDATE bus_messages
               SET lease_token = $token, lease_expires_at = $expires, visible_at = $expires
             WHERE id IN (SELECT id FROM bus_messages
                           WHERE queue = $queue AND priority IN (9, 8, 7, 6, 5, 4, 3, 2, 1, 0) AND visible_at <= $now -- AnyPriority
                           ORDER BY priority DESC, visible_at, id
                           LIMIT $max)
            RETURNING id, message_id, headers, body, receive_count + 1;
            """);
        take.Parameters.AddWithValue("$token", token);
        take.Parameters.AddWithValue("$expires", leaseExpiresAt.UtcTicks);
        take.Parameters.AddWithValue("$queue", queue);
        take.Parameters.AddWithValue("$now", now.UtcTicks);
        take.Parameters.AddWithValue("$max", max);
        await using (var reader = await take.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var message = ReadMessage(reader, messageIdOrdinal: 1, headersOrdinal: 2, bodyOrdinal: 3);
                rows.Add(new LeasedRow(reader.GetInt64(0), token, message, reader.GetInt32(4), leaseExpiresAt));
            }
        }

        if (rows.Count == 0)
        {
            next = await NextVisibleAtAsync(write.Command(NextVisibleAtSql), queue, cancellationToken).ConfigureAwait(false);
        }

        rows.Sort(static (a, b) => b.Message.Priority != a.Message.Priority ? b.Message.Priority.CompareTo(a.Message.Priority) : a.Id.CompareTo(b.Id));
        return (rows, next);
    }

    /// <summary>Stores <paramref name="attempt"/> as the leased message's count of attempts: its handlers start.</summary>
    public Task<bool> BeginAttemptAsync(long id, string token, int attempt, CancellationToken cancellationToken) =>
        Writes.RunAsync((write, ct) => BeginAttemptAsync(write, id, token, attempt, ct), cancellationToken, flush: false);

    private static async Task<bool> BeginAttemptAsync(
        WriteConnection write, long id, string token, int attempt, CancellationToken cancellationToken)
    {
        var begin = write.Command("UPDATE bus_messages SET receive_count = $attempt WHERE id = $id AND lease_token = $token;");
        begin.Parameters.AddWithValue("$attempt", attempt);
        begin.Parameters.AddWithValue("$id", id);
        begin.Parameters.AddWithValue("$token", token);
        return await begin.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    public Task<bool> RenewAsync(long id, string token, DateTimeOffset expiresAt, CancellationToken cancellationToken) =>
        Writes.RunAsync((write, ct) => RenewAsync(write, id, token, expiresAt, ct), cancellationToken, flush: false);

    private static async Task<bool> RenewAsync(
        WriteConnection write, long id, string token, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        var renew = write.Command("UPDATE bus_messages SET lease_expires_at = $expires, visible_at = $expires WHERE id = $id AND lease_token = $token;");
        renew.Parameters.AddWithValue("$expires", expiresAt.UtcTicks);
        renew.Parameters.AddWithValue("$id", id);
        renew.Parameters.AddWithValue("$token", token);
        return await renew.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <summary>Queues the completion of a leased message without waiting for it: the caller moves on, and the delete
    /// commits with the next writes (in order, before any later write of this table). It is only for a lease that
    /// cannot end before the queue reaches it; should the delete still find the lease gone, or fail, the message is
    /// delivered again when its lease ends, as after a crash before the completion. Disposing the table runs it.</summary>
    public void QueueCompletion(long id, string token)
    {
        Interlocked.Increment(ref _queuedCompletions);
        _ = CompleteQueuedAsync(id, token);
    }

    private async Task CompleteQueuedAsync(long id, string token)
    {
        try
        {
            await CompleteAsync(id, token, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Nothing is lost: the row stays and its lease ends (see QueueCompletion).
        }
        finally
        {
            Interlocked.Decrement(ref _queuedCompletions);
        }
    }

    public Task<bool> CompleteAsync(long id, string token, CancellationToken cancellationToken) =>
        Writes.RunAsync((write, ct) => CompleteAsync(write, id, token, ct), cancellationToken, flush: false);

    private static async Task<bool> CompleteAsync(
        WriteConnection write, long id, string token, CancellationToken cancellationToken)
    {
        var delete = write.Command("DELETE FROM bus_messages WHERE id = $id AND lease_token = $token;");
        delete.Parameters.AddWithValue("$id", id);
        delete.Parameters.AddWithValue("$token", token);
        return await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <summary>Ends the lease and makes the message visible at <paramref name="visibleAt"/> with <paramref name="attempts"/>
    /// counted (an abandon counts the delivery's attempt, a release does not).</summary>
    public Task<bool> ReturnAsync(long id, string token, DateTimeOffset visibleAt, int attempts, CancellationToken cancellationToken) =>
        Writes.RunAsync((write, ct) => ReturnAsync(write, id, token, visibleAt, attempts, ct), cancellationToken);

    private static async Task<bool> ReturnAsync(
        WriteConnection write, long id, string token, DateTimeOffset visibleAt, int attempts,
        CancellationToken cancellationToken)
    {
        var giveBack = write.Command("""
            UPDATE bus_messages
               SET lease_token = NULL, lease_expires_at = NULL, visible_at = $visible,
                   receive_count = $attempts
             WHERE id = $id AND lease_token = $token;
            """);
        giveBack.Parameters.AddWithValue("$visible", visibleAt.UtcTicks);
        giveBack.Parameters.AddWithValue("$attempts", attempts);
        giveBack.Parameters.AddWithValue("$id", id);
        giveBack.Parameters.AddWithValue("$token", token);
        return await giveBack.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <summary>Removes the leased message and stores its dead letter, in one transaction.</summary>
    public Task<bool> DeadLetterAsync(
        long id, string token, string queue, TransportMessage deadLettered, int receiveCount, DateTimeOffset failedAt,
        CancellationToken cancellationToken) =>
        Writes.RunAsync(
            (write, ct) => DeadLetterAsync(write, id, token, queue, deadLettered, receiveCount, failedAt, ct),
            cancellationToken);

    private static async Task<bool> DeadLetterAsync(
        WriteConnection write, long id, string token, string queue, TransportMessage deadLettered,
        int receiveCount, DateTimeOffset failedAt, CancellationToken cancellationToken)
    {
        var delete = write.Command("DELETE FROM bus_messages WHERE id = $id AND lease_token = $token;");
        delete.Parameters.AddWithValue("$id", id);
        delete.Parameters.AddWithValue("$token", token);
        if (await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
        {
            return false; // nothing was deleted, so there is nothing to roll back
        }

        var insert = write.Command("""
            INSERT INTO bus_dead_letters (queue, message_id, headers, body, receive_count, failed_at)
            VALUES ($queue, $message_id, $headers, $body, $receive_count, $failed_at);
            """);
        insert.Parameters.AddWithValue("$queue", queue);
        insert.Parameters.AddWithValue("$message_id", deadLettered.MessageId ?? string.Empty);
        insert.Parameters.AddWithValue("$headers", StoreJson.SerializeHeaders(deadLettered.Headers));
        insert.Parameters.AddWithValue("$body", BodyBytes(deadLettered.Body));
        insert.Parameters.AddWithValue("$receive_count", receiveCount);
        insert.Parameters.AddWithValue("$failed_at", failedAt.UtcTicks);
        await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);

        return true;
    }

    public async Task<List<TransportMessage>> PeekDeadLettersAsync(string queue, int max, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var peek = Sql.Command(
            connection, null, "SELECT message_id, headers, body FROM bus_dead_letters WHERE queue = $queue ORDER BY id LIMIT $max;");
        peek.Parameters.AddWithValue("$queue", queue);
        peek.Parameters.AddWithValue("$max", max);
        var result = new List<TransportMessage>();
        await using var reader = await peek.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(ReadMessage(reader, messageIdOrdinal: 0, headersOrdinal: 1, bodyOrdinal: 2));
        }

        return result;
    }

    /// <summary>Moves dead letters back to their queue (without failure headers, attempt count 0) in one transaction.</summary>
    public Task<int> RedriveAsync(
        string queue, IReadOnlyCollection<string>? messageIds, DateTimeOffset now, CancellationToken cancellationToken) =>
        Writes.RunAsync((write, ct) => RedriveAsync(write, queue, messageIds, now, ct), cancellationToken);

    private static async Task<int> RedriveAsync(
        WriteConnection write, string queue, IReadOnlyCollection<string>? messageIds, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var dead = new List<(long Id, TransportMessage Message)>();
        var select = write.Command($"SELECT id, message_id, headers, body FROM bus_dead_letters WHERE queue = $queue {IdFilter(messageIds)} ORDER BY id;");
        select.Parameters.AddWithValue("$queue", queue);
        AddIds(select, messageIds);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            dead.Add((reader.GetInt64(0), ReadMessage(reader, messageIdOrdinal: 1, headersOrdinal: 2, bodyOrdinal: 3)));
        }

        var insert = CreateInsert(write, now);
        var delete = write.Command("DELETE FROM bus_dead_letters WHERE id = $id;");
        var deleteId = delete.Parameters.Add("$id", SqliteType.Integer);
        foreach (var (id, message) in dead)
        {
            var original = FailureDetails.Read(message, queue).Message;
            await InsertAsync(insert, queue, original.MessageId ?? Guid.NewGuid().ToString(), original, now, cancellationToken).ConfigureAwait(false);
            deleteId.Value = id;
            await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        return dead.Count;
    }

    public Task<int> PurgeAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken) =>
        Writes.RunAsync((write, ct) => PurgeAsync(write, queue, messageIds, ct), cancellationToken);

    private static async Task<int> PurgeAsync(
        WriteConnection write, string queue, IReadOnlyCollection<string>? messageIds,
        CancellationToken cancellationToken)
    {
        var purge = write.Command($"DELETE FROM bus_dead_letters WHERE queue = $queue {IdFilter(messageIds)};");
        purge.Parameters.AddWithValue("$queue", queue);
        AddIds(purge, messageIds);
        return await purge.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Messages waiting or in flight in <paramref name="queue"/> (not dead letters).</summary>
    public Task<long> CountMessagesAsync(string queue, CancellationToken cancellationToken) =>
        CountAsync("SELECT COUNT(*) FROM bus_messages WHERE queue = $queue;", queue, cancellationToken);

    /// <summary>Dead letters held for <paramref name="queue"/>.</summary>
    public Task<long> CountDeadLettersAsync(string queue, CancellationToken cancellationToken) =>
        CountAsync("SELECT COUNT(*) FROM bus_dead_letters WHERE queue = $queue;", queue, cancellationToken);

    private async Task<long> CountAsync(string sql, string queue, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var count = Sql.Command(connection, null, sql);
        count.Parameters.AddWithValue("$queue", queue);
        return (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) ?? 0L);
    }

    /// <summary>Reads when the queue's next message becomes visible (null for an empty queue) with
    /// <paramref name="next"/>, a command of <see cref="NextVisibleAtSql"/>.</summary>
    private static async Task<DateTimeOffset?> NextVisibleAtAsync(SqliteCommand next, string queue, CancellationToken cancellationToken)
    {
        next.Parameters.AddWithValue("$queue", queue);
        return await next.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long ticks
            ? new DateTimeOffset(ticks, TimeSpan.Zero)
            : null;
    }

    private static async Task<List<string>> SubscribersAsync(
        WriteConnection write, string topic, Dictionary<string, List<string>> cache,
        CancellationToken cancellationToken)
    {
        if (cache.TryGetValue(topic, out var known))
        {
            return known;
        }

        var queues = new List<string>();
        var select = write.Command("SELECT queue FROM bus_subscriptions WHERE topic = $topic ORDER BY queue;");
        select.Parameters.AddWithValue("$topic", topic);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            queues.Add(reader.GetString(0));
        }

        cache[topic] = queues;
        return queues;
    }

    private static SqliteCommand CreateInsert(WriteConnection write, DateTimeOffset now)
    {
        var insert = write.Command(InsertSql);
        insert.Parameters.Add("$queue", SqliteType.Text);
        insert.Parameters.Add("$message_id", SqliteType.Text);
        insert.Parameters.Add("$headers", SqliteType.Text);
        insert.Parameters.Add("$body", SqliteType.Blob);
        insert.Parameters.Add("$visible_at", SqliteType.Integer);
        insert.Parameters.Add("$priority", SqliteType.Integer);
        insert.Parameters.AddWithValue("$now", now.UtcTicks);
        return insert;
    }

    private static async Task InsertAsync(
        SqliteCommand insert, string queue, string messageId, TransportMessage message, DateTimeOffset visibleAt,
        CancellationToken cancellationToken)
    {
        insert.Parameters["$queue"].Value = queue;
        insert.Parameters["$message_id"].Value = messageId;
        insert.Parameters["$headers"].Value = StoreJson.SerializeHeaders(message.Headers);
        insert.Parameters["$body"].Value = BodyBytes(message.Body);
        insert.Parameters["$visible_at"].Value = visibleAt.UtcTicks;
        insert.Parameters["$priority"].Value = message.Priority;
        await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads headers and body; a message stored without a bus message id gets the stored (broker) id.</summary>
    internal static TransportMessage ReadMessage(SqliteDataReader reader, int messageIdOrdinal, int headersOrdinal, int bodyOrdinal)
    {
        var headers = StoreJson.DeserializeHeaders(reader.GetString(headersOrdinal));
        if (!headers.ContainsKey(MessageHeaders.MessageId))
        {
            headers[MessageHeaders.MessageId] = reader.GetString(messageIdOrdinal);
        }

        var body = reader.IsDBNull(bodyOrdinal) ? [] : reader.GetFieldValue<byte[]>(bodyOrdinal);
        return new TransportMessage(headers, body);
    }

    private static byte[] BodyBytes(ReadOnlyMemory<byte> body) =>
        MemoryMarshal.TryGetArray(body, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : body.ToArray();

    private static string IdFilter(IReadOnlyCollection<string>? messageIds) =>
        messageIds is null ? string.Empty : "AND message_id IN (SELECT value FROM json_each($ids))";

    private static void AddIds(SqliteCommand command, IReadOnlyCollection<string>? messageIds)
    {
        if (messageIds is not null)
        {
            command.Parameters.AddWithValue("$ids", StoreJson.SerializeStrings(messageIds));
        }
    }
}

/// <summary>A message taken under a lease.</summary>
internal sealed record LeasedRow(long Id, string Token, TransportMessage Message, int ReceiveCount, DateTimeOffset LeaseExpiresAt);

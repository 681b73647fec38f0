using System.Runtime.InteropServices;
using Bus.Storage;
using Bus.PostgreSql.Schema;
using Bus.Transports;
using Npgsql;
using NpgsqlTypes;

namespace Bus.PostgreSql.Transport;

/// <summary>
/// The SQL of the transport: messages under row leases (<c>FOR UPDATE SKIP LOCKED</c> claims, a random lease token per
/// receive), subscriptions, dead letters, and a <c>NOTIFY</c> on the schema's channel with the queue's name whenever
/// a message is written or given back. The notification goes in its own statement right after the write commits: it
/// writes no WAL, so it commits without a flush, and writers are not serialised on the server's notification lock
/// while their commits are flushed (they share flushes instead). A host that dies in between leaves the message to the
/// receivers' poll.
/// </summary>
internal sealed class MessageTable(PostgreSqlDatabase database)
{
    // Queue messages go to their queue; a topic's go to every subscribed queue (none: dropped, as a topic without
    // subscribers does), all in one statement: all or none.
    private const string InsertSql =
        """
        WITH inserted AS (
            INSERT INTO {schema}.messages (queue, message_id, headers, body, visible_at, enqueued_at, priority)
            SELECT CASE WHEN d.is_topic THEN s.queue ELSE d.destination END, d.message_id, d.headers::jsonb, d.body, d.visible_at, @now, d.priority
              FROM unnest(@is_topic, @destination, @message_id, @headers, @body, @visible_at, @priority) WITH ORDINALITY
                   AS d(is_topic, destination, message_id, headers, body, visible_at, priority, ord)
              LEFT JOIN {schema}.subscriptions s ON d.is_topic AND s.topic = d.destination
             WHERE NOT d.is_topic OR s.queue IS NOT NULL
             ORDER BY d.ord, s.queue
            RETURNING queue)
        SELECT DISTINCT queue FROM inserted;
        """;

    public PostgreSqlDatabase Database { get; } = database;

    public Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) =>
        Database.OpenAsync(Migrations.TransportComponent, Migrations.Transport, cancellationToken);

    public async Task ProvisionAsync(TransportTopology topology, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var provision = Database.Command(
            connection,
            null,
            """
            WITH queue AS (
                INSERT INTO {schema}.queues (name, created_at) VALUES (@queue, @now) ON CONFLICT (name) DO NOTHING)
            INSERT INTO {schema}.subscriptions (topic, queue)
            SELECT DISTINCT topic, @queue FROM unnest(@topics) AS t(topic)
            ON CONFLICT DO NOTHING;
            """);
        provision.Parameters.AddWithValue("queue", topology.InputQueue);
        provision.Parameters.AddWithValue("now", now);
        provision.Parameters.Add(new NpgsqlParameter<string[]>("topics", topology.Subscriptions.ToArray()));
        await provision.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stores every message in one statement (all or none) and returns the queues written to.</summary>
    public async Task<List<string>> SendAsync(IReadOnlyList<OutgoingMessage> messages, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var touched = await InsertAsync(connection, null, messages, now, cancellationToken).ConfigureAwait(false);
        await NotifyAsync(connection, touched).ConfigureAwait(false);
        return touched;
    }

    /// <summary>Leases up to <paramref name="max"/> visible messages, or returns none and when the next one becomes
    /// visible, in one round trip. Each row's receive count is the attempt its delivery would be; it is stored only when
    /// the attempt begins (<see cref="BeginAttemptAsync"/>), so a message taken by a worker that dies before starting it
    /// keeps its count. The lease commits without waiting for its flush to disk
    /// (<see cref="Relaxed"/>).</summary>
    public async Task<(List<LeasedRow> Rows, DateTimeOffset? NextVisibleAt)> TakeAsync(
        string queue, int max, DateTimeOffset now, DateTimeOffset leaseExpiresAt, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var token = Guid.NewGuid();
        var rows = new List<LeasedRow>();
        DateTimeOffset? nextVisibleAt = null;
        await using var take = Relaxed(
            connection,
            """
            WITH next AS (
                SELECT c.id FROM unnest('{9,8,7,6,5,4,3,2,1,0}'::smallint[]) AS p(priority)
                 CROSS JOIN LATERAL (
                     SELECT id FROM {schema}.messages
                      WHERE queue = @queue AND priority = p.priority AND visible_at <= @now
                      ORDER BY visible_at, id
                      LIMIT @max
                      FOR UPDATE SKIP LOCKED) c
                 LIMIT @max),
            taken AS (
                UPDATE {schema}.messages m
                   SET lease_token = @token, visible_at = @expires
                  FROM next
                 WHERE m.id = next.id
                RETURNING m.id, m.message_id, m.headers::text AS headers, m.body, m.receive_count + 1 AS receive_count)
            SELECT id, message_id, headers, body, receive_count, NULL::bigint FROM taken
            UNION ALL
            SELECT NULL, NULL, NULL, NULL, NULL,
                   (SELECT min(c.visible_at) FROM unnest('{9,8,7,6,5,4,3,2,1,0}'::smallint[]) AS p(priority)
                     CROSS JOIN LATERAL (SELECT min(visible_at) AS visible_at FROM {schema}.messages
                                          WHERE queue = @queue AND priority = p.priority) c)
             WHERE NOT EXISTS (SELECT 1 FROM taken);
            """,
            out var parameters);
        parameters.AddWithValue("queue", queue);
        parameters.AddWithValue("now", now.UtcTicks);
        parameters.AddWithValue("max", max);
        parameters.AddWithValue("token", token);
        parameters.AddWithValue("expires", leaseExpiresAt.UtcTicks);
        await using (var reader = await ReadRelaxedAsync(take, cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (reader.IsDBNull(0))
                {
                    nextVisibleAt = reader.IsDBNull(5) ? null : new DateTimeOffset(reader.GetInt64(5), TimeSpan.Zero);
                    continue;
                }

                var message = ReadMessage(reader.GetString(1), reader.GetString(2), reader.GetFieldValue<byte[]>(3));
                rows.Add(new LeasedRow(reader.GetInt64(0), token, message, reader.GetInt32(4), leaseExpiresAt));
            }
        }

        rows.Sort(static (a, b) => b.Message.Priority != a.Message.Priority ? b.Message.Priority.CompareTo(a.Message.Priority) : a.Id.CompareTo(b.Id));
        return (rows, nextVisibleAt);
    }

    /// <summary>Stores the delivery's attempt as the leased message's count of attempts: its handlers start. Commits
    /// without waiting for the flush (<see cref="Relaxed"/>): a worker that crashes right after still has it counted;
    /// only a server crash in the next moment could lose it.</summary>
    public async Task<bool> BeginAttemptAsync(LeasedRow row, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var begin = Relaxed(
            connection,
            "UPDATE {schema}.messages SET receive_count = @attempt WHERE id = @id AND lease_token = @token RETURNING id;",
            out var parameters);
        parameters.AddWithValue("attempt", row.ReceiveCount);
        parameters.AddWithValue("id", row.Id);
        parameters.AddWithValue("token", row.Token);
        await using var reader = await ReadRelaxedAsync(begin, cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Extends many leases in one statement; returns the ids whose lease was still held. Commits without
    /// waiting for the flush (<see cref="Relaxed"/>).</summary>
    public async Task<HashSet<long>> RenewAsync(
        IReadOnlyList<(long Id, Guid Token, DateTimeOffset ExpiresAt)> leases, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var renew = Relaxed(
            connection,
            """
            UPDATE {schema}.messages m SET visible_at = r.expires_at
              FROM unnest(@ids, @tokens, @expires) AS r(id, token, expires_at)
             WHERE m.id = r.id AND m.lease_token = r.token
            RETURNING m.id;
            """,
            out var parameters);
        parameters.Add(new NpgsqlParameter<long[]>("ids", leases.Select(l => l.Id).ToArray()));
        parameters.Add(new NpgsqlParameter<Guid[]>("tokens", leases.Select(l => l.Token).ToArray()));
        parameters.Add(new NpgsqlParameter<long[]>("expires", leases.Select(l => l.ExpiresAt.UtcTicks).ToArray()));
        var held = new HashSet<long>();
        await using var reader = await ReadRelaxedAsync(renew, cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            held.Add(reader.GetInt64(0));
        }

        return held;
    }

    /// <summary>Deletes the leased message; with <paramref name="sends"/>, writes them in the same transaction.</summary>
    public Task<bool> CompleteAsync(LeasedRow row, IReadOnlyList<OutgoingMessage>? sends, DateTimeOffset now, CancellationToken cancellationToken) =>
        SettleAsync(
            "DELETE FROM {schema}.messages WHERE id = @id AND lease_token = @token;",
            row,
            static _ => { },
            sends,
            now,
            cancellationToken);

    /// <summary>Ends the lease and makes the message visible at <paramref name="visibleAt"/> with
    /// <paramref name="attempts"/> counted (an abandon counts the delivery's attempt, a release does not). Wakes the
    /// queue's receivers.</summary>
    public Task<bool> ReturnAsync(
        LeasedRow row, string queue, DateTimeOffset visibleAt, int attempts, IReadOnlyList<OutgoingMessage>? sends, DateTimeOffset now,
        CancellationToken cancellationToken) =>
        SettleAsync(
            """
            UPDATE {schema}.messages
               SET lease_token = NULL, visible_at = @visible_at, receive_count = @attempts
             WHERE id = @id AND lease_token = @token;
            """,
            row,
            command =>
            {
                command.Parameters.AddWithValue("visible_at", visibleAt.UtcTicks);
                command.Parameters.AddWithValue("attempts", attempts);
            },
            sends,
            now,
            cancellationToken,
            wake: queue);

    /// <summary>Removes the leased message and stores its dead letter with the failure details, in one statement.</summary>
    public Task<bool> DeadLetterAsync(
        LeasedRow row, FailureDetails failure, IReadOnlyList<OutgoingMessage>? sends, DateTimeOffset now, CancellationToken cancellationToken) =>
        SettleAsync(
            """
            WITH gone AS (DELETE FROM {schema}.messages WHERE id = @id AND lease_token = @token RETURNING queue, message_id)
            INSERT INTO {schema}.dead_letters (queue, message_id, headers, body, receive_count, reason, exception_type,
                                               exception_message, stack_trace, attempts, source_queue, failed_at)
            SELECT queue, message_id, @headers::jsonb, @body, @receive_count, @reason, @exception_type,
                   @exception_message, @stack_trace, @attempts, @source_queue, @failed_at
              FROM gone;
            """,
            row,
            command =>
            {
                command.Parameters.AddWithValue("headers", StoreJson.SerializeHeaders(row.Message.Headers));
                command.Parameters.AddWithValue("body", BodyBytes(row.Message.Body));
                command.Parameters.AddWithValue("receive_count", row.ReceiveCount);
                command.Parameters.AddWithValue("reason", failure.Reason);
                command.Parameters.AddWithValue("exception_type", NpgsqlDbType.Text, (object?)failure.ExceptionType ?? DBNull.Value);
                command.Parameters.AddWithValue("exception_message", NpgsqlDbType.Text, (object?)failure.ExceptionMessage ?? DBNull.Value);
                command.Parameters.AddWithValue("stack_trace", NpgsqlDbType.Text, (object?)failure.StackTrace ?? DBNull.Value);
                command.Parameters.AddWithValue("attempts", failure.Attempts);
                command.Parameters.AddWithValue("source_queue", failure.SourceQueue);
                command.Parameters.AddWithValue("failed_at", failure.FailedAt.ToUniversalTime());
            },
            sends,
            now,
            cancellationToken);

    public async Task<List<DeadLetter>> PeekDeadLettersAsync(string queue, int max, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var peek = Database.Command(
            connection,
            null,
            $"SELECT {DeadLetterColumns} FROM {{schema}}.dead_letters WHERE queue = @queue ORDER BY id LIMIT @max;");
        peek.Parameters.AddWithValue("queue", queue);
        peek.Parameters.AddWithValue("max", max);
        var result = new List<DeadLetter>();
        await using var reader = await peek.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(ReadDeadLetter(reader));
        }

        return result;
    }

    /// <summary>The dead letters of <paramref name="queue"/> after row <paramref name="afterId"/> that pass every filter
    /// of <paramref name="query"/>, in row order, at most <paramref name="max"/>, each with its row id. One statement:
    /// a filter that is not set is bound as null and matches everything.</summary>
    public async Task<List<(long Id, DeadLetter Letter)>> ListDeadLettersAsync(
        string queue, DeadLetterQuery query, long afterId, int max, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var list = Database.Command(
            connection,
            null,
            $$"""
            SELECT id, {{DeadLetterColumns}}
              FROM {schema}.dead_letters
             WHERE queue = @queue AND id > @after
               AND (@types::text[] IS NULL OR headers ->> @type_header = ANY(@types))
               AND (@reason::text IS NULL OR strpos(lower(reason), lower(@reason)) > 0)
               AND (@from::timestamptz IS NULL OR failed_at >= @from)
               AND (@before::timestamptz IS NULL OR failed_at < @before)
               AND (@ids::text[] IS NULL OR message_id = ANY(@ids))
             ORDER BY id
             LIMIT @max;
            """);
        list.Parameters.AddWithValue("queue", queue);
        list.Parameters.AddWithValue("after", afterId);
        list.Parameters.AddWithValue("type_header", MessageHeaders.MessageType);
        list.Parameters.AddWithValue("types", NpgsqlDbType.Array | NpgsqlDbType.Text, (object?)query.MessageTypes?.ToArray() ?? DBNull.Value);
        list.Parameters.AddWithValue("reason", NpgsqlDbType.Text, query.ReasonContains is { Length: > 0 } reason ? reason : DBNull.Value);
        list.Parameters.AddWithValue("from", NpgsqlDbType.TimestampTz, (object?)query.FailedFrom?.ToUniversalTime() ?? DBNull.Value);
        list.Parameters.AddWithValue("before", NpgsqlDbType.TimestampTz, (object?)query.FailedBefore?.ToUniversalTime() ?? DBNull.Value);
        list.Parameters.AddWithValue("ids", NpgsqlDbType.Array | NpgsqlDbType.Text, (object?)query.MessageIds?.ToArray() ?? DBNull.Value);
        list.Parameters.AddWithValue("max", max);
        var result = new List<(long, DeadLetter)>();
        await using var reader = await list.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add((reader.GetInt64(0), ReadDeadLetter(reader, first: 1)));
        }

        return result;
    }

    private const string DeadLetterColumns =
        "message_id, headers::text, body, reason, exception_type, exception_message, stack_trace, attempts, source_queue, failed_at";

    /// <summary>Reads the <see cref="DeadLetterColumns"/> starting at column <paramref name="first"/>.</summary>
    private static DeadLetter ReadDeadLetter(NpgsqlDataReader reader, int first = 0)
    {
        string? Text(int column) => reader.IsDBNull(first + column) ? null : reader.GetString(first + column);
        return new DeadLetter(
            ReadMessage(reader.GetString(first), reader.GetString(first + 1), reader.GetFieldValue<byte[]>(first + 2)),
            new FailureDetails(
                reader.GetString(first + 3),
                Text(4),
                Text(5),
                Text(6),
                reader.GetInt32(first + 7),
                reader.GetString(first + 8),
                new DateTimeOffset(reader.GetFieldValue<DateTime>(first + 9), TimeSpan.Zero)));
    }

    /// <summary>Moves dead letters back to their queue (original headers, attempt count 0) in one statement.</summary>
    public async Task<int> RedriveAsync(
        string queue, IReadOnlyCollection<string>? messageIds, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var redrive = Database.Command(
            connection,
            null,
            """
            WITH moved AS (
                DELETE FROM {schema}.dead_letters
                 WHERE queue = @queue AND (@all OR message_id = ANY(@ids))
                RETURNING id, message_id, headers, body),
            inserted AS (
                INSERT INTO {schema}.messages (queue, message_id, headers, body, visible_at, enqueued_at, priority)
                SELECT @queue, message_id, headers, body, @visible_at, @now,
                       CASE WHEN headers->>'bus-priority' ~ '^[0-9]$' THEN (headers->>'bus-priority')::smallint
                            WHEN headers->>'bus-priority' ~ '^[0-9]+$' THEN 9 ELSE 0 END
                  FROM moved ORDER BY id
                RETURNING 1)
            SELECT count(*)::integer FROM inserted;
            """);
        redrive.Parameters.AddWithValue("queue", queue);
        redrive.Parameters.AddWithValue("all", messageIds is null);
        redrive.Parameters.Add(new NpgsqlParameter<string[]>("ids", messageIds?.ToArray() ?? []));
        redrive.Parameters.AddWithValue("visible_at", now.UtcTicks);
        redrive.Parameters.AddWithValue("now", now);
        var moved = (int)(await redrive.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) ?? 0);
        if (moved > 0)
        {
            await NotifyAsync(connection, [queue]).ConfigureAwait(false);
        }

        return moved;
    }

    public async Task<int> PurgeAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var purge = Database.Command(
            connection, null, "DELETE FROM {schema}.dead_letters WHERE queue = @queue AND (@all OR message_id = ANY(@ids));");
        purge.Parameters.AddWithValue("queue", queue);
        purge.Parameters.AddWithValue("all", messageIds is null);
        purge.Parameters.Add(new NpgsqlParameter<string[]>("ids", messageIds?.ToArray() ?? []));
        return await purge.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Messages waiting or in flight in <paramref name="queue"/> (not dead letters).</summary>
    public Task<long> CountMessagesAsync(string queue, CancellationToken cancellationToken) =>
        CountAsync("SELECT count(*) FROM {schema}.messages WHERE queue = @queue;", queue, cancellationToken);

    /// <summary>Dead letters held for <paramref name="queue"/>.</summary>
    public Task<long> CountDeadLettersAsync(string queue, CancellationToken cancellationToken) =>
        CountAsync("SELECT count(*) FROM {schema}.dead_letters WHERE queue = @queue;", queue, cancellationToken);

    private async Task<long> CountAsync(string sql, string queue, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var count = Database.Command(connection, null, sql);
        count.Parameters.AddWithValue("queue", queue);
        return (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) ?? 0L);
    }

    /// <summary>Runs one settling statement on the row (it must affect the row, else the lease was lost). With
    /// <paramref name="sends"/> (the handler's messages, a transactional outbox), runs it and writes them in one
    /// transaction, so they exist exactly when the message is settled.</summary>
    private async Task<bool> SettleAsync(
        string sql, LeasedRow row, Action<NpgsqlCommand> bind, IReadOnlyList<OutgoingMessage>? sends, DateTimeOffset now,
        CancellationToken cancellationToken, string? wake = null)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = sends is { Count: > 0 } ? await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false) : null;
        await using (var settle = Database.Command(connection, transaction, sql))
        {
            settle.Parameters.AddWithValue("id", row.Id);
            settle.Parameters.AddWithValue("token", row.Token);
            bind(settle);
            if (await settle.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
            {
                return false; // the transaction, if any, rolls back on dispose
            }
        }

        var touched = new List<string>();
        if (transaction is not null)
        {
            touched = await InsertAsync(connection, transaction, sends!, now, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        if (wake is not null)
        {
            touched.Add(wake);
        }

        await NotifyAsync(connection, touched).ConfigureAwait(false);
        return true;
    }

    private async Task<List<string>> InsertAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, IReadOnlyList<OutgoingMessage> messages, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var count = messages.Count;
        var isTopic = new bool[count];
        var destination = new string[count];
        var messageId = new string[count];
        var headers = new string[count];
        var body = new byte[count][];
        var visibleAt = new long[count];
        var priority = new short[count];
        for (var i = 0; i < count; i++)
        {
            var outgoing = messages[i];
            isTopic[i] = outgoing.Destination.Kind == DestinationKind.Topic;
            destination[i] = outgoing.Destination.Name;
            messageId[i] = outgoing.Message.MessageId ?? Guid.NewGuid().ToString();
            headers[i] = StoreJson.SerializeHeaders(outgoing.Message.Headers);
            body[i] = BodyBytes(outgoing.Message.Body);
            visibleAt[i] = (outgoing.VisibleAt is { } at && at > now ? at : now).UtcTicks;
            priority[i] = (short)outgoing.Message.Priority;
        }

        await using var insert = Database.Command(connection, transaction, InsertSql);
        insert.Parameters.Add(new NpgsqlParameter<bool[]>("is_topic", isTopic));
        insert.Parameters.Add(new NpgsqlParameter<string[]>("destination", destination));
        insert.Parameters.Add(new NpgsqlParameter<string[]>("message_id", messageId));
        insert.Parameters.Add(new NpgsqlParameter<string[]>("headers", headers));
        insert.Parameters.Add(new NpgsqlParameter("body", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { Value = body });
        insert.Parameters.Add(new NpgsqlParameter<long[]>("visible_at", visibleAt));
        insert.Parameters.Add(new NpgsqlParameter<short[]>("priority", priority));
        insert.Parameters.AddWithValue("now", now);
        var touched = new List<string>();
        await using var reader = await insert.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            touched.Add(reader.GetString(0));
        }

        return touched;
    }

    /// <summary>A statement that commits without waiting for its WAL to reach the disk: one batch of
    /// <c>set_config('synchronous_commit', 'off', true)</c> and <paramref name="sql"/>, which the server runs as one
    /// implicit transaction (one round trip, one sync), so the setting holds for that transaction only. For writes whose loss in a server crash does no harm: a lease or a renewal lost that
    /// way only makes the message visible again (at-least-once, as after any crash), and the next durable commit
    /// flushes it anyway. Sends, completions, give-backs and dead letters always wait for the flush.</summary>
    private NpgsqlBatch Relaxed(NpgsqlConnection connection, string sql, out NpgsqlParameterCollection parameters)
    {
        var statement = new NpgsqlBatchCommand(Database.Sql(sql));
        parameters = statement.Parameters;
        return new NpgsqlBatch(connection)
        {
            BatchCommands = { new NpgsqlBatchCommand("SELECT set_config('synchronous_commit', 'off', true);"), statement },
        };
    }

    /// <summary>Runs a <see cref="Relaxed"/> batch and returns its reader on the statement's rows.</summary>
    private static async Task<NpgsqlDataReader> ReadRelaxedAsync(NpgsqlBatch batch, CancellationToken cancellationToken)
    {
        var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false); // past the set_config row
        return reader;
    }

    /// <summary>Wakes the receivers of <paramref name="queues"/> on every host (a statement of its own, after the write
    /// committed). The write stands whatever happens here: a notification that fails is left to the receivers' poll.</summary>
    private async Task NotifyAsync(NpgsqlConnection connection, List<string> queues)
    {
        if (queues.Count == 0)
        {
            return;
        }

        try
        {
            await using var notify = Database.Command(connection, null, "SELECT pg_notify(@channel, queue) FROM unnest(@queues) AS q(queue);");
            notify.Parameters.AddWithValue("channel", Database.Channel);
            notify.Parameters.Add(new NpgsqlParameter<string[]>("queues", [.. queues.Distinct(StringComparer.Ordinal)]));
            await notify.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (NpgsqlException)
        {
            // Committed already; receivers on other hosts find the message at their next poll.
        }
    }

    /// <summary>Reads headers and body; a message stored without a bus message id gets the stored one.</summary>
    private static TransportMessage ReadMessage(string messageId, string headersJson, byte[] body)
    {
        var headers = StoreJson.DeserializeHeaders(headersJson);
        if (!headers.ContainsKey(MessageHeaders.MessageId))
        {
            headers[MessageHeaders.MessageId] = messageId;
        }

        return new TransportMessage(headers, body);
    }

    private static byte[] BodyBytes(ReadOnlyMemory<byte> body) =>
        MemoryMarshal.TryGetArray(body, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : body.ToArray();
}

/// <summary>A message taken under a lease.</summary>
internal sealed record LeasedRow(long Id, Guid Token, TransportMessage Message, int ReceiveCount, DateTimeOffset LeaseExpiresAt);

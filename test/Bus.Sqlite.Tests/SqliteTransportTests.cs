using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Bus.Sqlite.Transport;
using Bus.Testing;
using Bus.Transports;
using Microsoft.Data.Sqlite;

namespace Bus.Sqlite.Tests;

/// <summary>What the contract suite does not cover: several processes on one file, durability, the schema.</summary>
public sealed class SqliteTransportTests : IAsyncLifetime
{
    private static readonly TimeSpan LongLease = TimeSpan.FromHours(1);
    private readonly ManualTimeProvider _time = new();
    private readonly TempDatabase _database = new();
    private readonly List<SqliteTransport> _transports = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var transport in _transports)
        {
            await transport.DisposeAsync();
        }

        _database.Dispose();
    }

    /// <summary>A transport that acts as its own process: its own connections (no pool) and its own wake-up signals.</summary>
    private SqliteTransport NewProcess(TimeSpan? pollInterval = null)
    {
        var transport = new SqliteTransport(
            new SqliteTransportOptions
            {
                ConnectionString = _database.ConnectionString + ";Pooling=False",
                TimeProvider = _time,
                PollInterval = pollInterval ?? TimeSpan.FromSeconds(1),
            },
            new QueueSignals());
        _transports.Add(transport);
        return transport;
    }

    private SqliteTransport NewTransport()
    {
        var transport = new SqliteTransport(new SqliteTransportOptions { DatabasePath = _database.Path, TimeProvider = _time });
        _transports.Add(transport);
        return transport;
    }

    [Fact]
    public async Task Two_processes_racing_for_200_messages_never_lease_one_twice()
    {
        var one = NewProcess();
        var two = NewProcess();
        const string queue = "race";
        var sent = Enumerable.Range(0, 200).Select(i => Message($"m{i}")).ToList();
        foreach (var batch in sent.Chunk(50))
        {
            await one.SendAsync(batch.Select(m => new OutgoingMessage(Destination.Queue(queue), m)).ToList(), default);
        }

        var deliveries = new ConcurrentDictionary<string, int>();
        var held = new ConcurrentBag<IReceivedMessage>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var total = 0;

        async Task<int> DrainAsync(SqliteTransport transport)
        {
            var mine = 0;
            try
            {
                while (true)
                {
                    foreach (var received in await transport.ReceiveAsync(queue, 7, LongLease, stop.Token))
                    {
                        deliveries.AddOrUpdate(received.Message.MessageId!, 1, (_, n) => n + 1);
                        held.Add(received);
                        mine++;
                        if (Interlocked.Increment(ref total) == sent.Count)
                        {
                            all.TrySetResult();
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return mine;
            }
        }

        var racers = new[] { Task.Run(() => DrainAsync(one)), Task.Run(() => DrainAsync(two)) };
        await all.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await stop.CancelAsync();
        var counts = await Task.WhenAll(racers);

        Assert.Equal(sent.Count, counts.Sum());
        Assert.Equal(sent.Select(m => m.MessageId!).Order(), deliveries.Keys.Order());
        Assert.All(deliveries.Values, n => Assert.Equal(1, n));
        Assert.All(held, r => Assert.Equal(1, r.ReceiveCount));
        Assert.Empty(await AdvanceUntilDoneAsync(two.ReceiveAsync(queue, 10, LongLease, default).AsTask(), TimeSpan.FromSeconds(2)));

        var settled = 0;
        foreach (var received in held)
        {
            await received.CompleteAsync(default);
            settled++;
        }

        Assert.Equal(sent.Count, settled);
        await one.CountMessagesAsync(queue); // waits for the completions one queued; two's count then waits for its own
        Assert.Equal(0, await two.CountMessagesAsync(queue));
    }

    [Fact]
    public async Task A_lease_taken_over_by_another_process_is_lost_to_the_first()
    {
        var one = NewProcess();
        var two = NewProcess();
        await one.SendAsync([new OutgoingMessage(Destination.Queue("takeover"), Message("x"))], default);
        var first = Assert.Single(await one.ReceiveAsync("takeover", 1, TimeSpan.FromSeconds(10), default));
        await first.BeginAttemptAsync(default);

        _time.Advance(TimeSpan.FromSeconds(11));
        var second = Assert.Single(await two.ReceiveAsync("takeover", 1, LongLease, default));

        Assert.Equal(2, second.ReceiveCount);
        await Assert.ThrowsAsync<LeaseLostException>(() => first.CompleteAsync(default));
        await Assert.ThrowsAsync<LeaseLostException>(() => first.AbandonAsync(TimeSpan.Zero, default));
        await Assert.ThrowsAsync<LeaseLostException>(() => first.DeadLetterAsync(
            FailureDetails.From("late", null, 1, "takeover", _time.GetUtcNow()), default));
        await second.CompleteAsync(default);
        Assert.Equal(0, await one.CountDeadLettersAsync("takeover"));
        Assert.Equal(0, await two.CountMessagesAsync("takeover")); // two's counts wait for the completion it queued
    }

    [Fact]
    public async Task A_send_in_this_process_wakes_a_waiting_receiver_without_time_passing()
    {
        var transport = NewTransport();
        var receive = transport.ReceiveAsync("wake", 1, LongLease, default).AsTask();
        await UntilAsync(() => _time.PendingTimers > 0 || receive.IsCompleted);

        await transport.SendAsync([new OutgoingMessage(Destination.Queue("wake"), Message("now"))], default);

        var received = Assert.Single(await receive.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("now", Encoding.UTF8.GetString(received.Message.Body.Span));
    }

    [Fact]
    public async Task Another_process_finds_messages_within_its_poll_interval()
    {
        var receiver = NewProcess(pollInterval: TimeSpan.FromSeconds(5));
        var sender = NewProcess();
        var receive = receiver.ReceiveAsync("poll", 1, LongLease, default).AsTask();
        await UntilAsync(() => _time.PendingTimers > 0);

        await sender.SendAsync([new OutgoingMessage(Destination.Queue("poll"), Message("from elsewhere"))], default);
        Assert.False(receive.IsCompleted);
        var firstPoll = await AdvanceUntilDoneAsync(receive, TimeSpan.FromSeconds(5));
        var received = firstPoll.Count > 0 ? firstPoll : await receiver.ReceiveAsync("poll", 1, LongLease, default);

        Assert.Equal("from elsewhere", Encoding.UTF8.GetString(Assert.Single(received).Message.Body.Span));
    }

    [Fact]
    public async Task Messages_and_dead_letters_survive_reopening_the_file()
    {
        await using (var before = new SqliteTransport(new SqliteTransportOptions { DatabasePath = _database.Path, TimeProvider = _time }))
        {
            await before.SendAsync(
            [
                new OutgoingMessage(Destination.Queue("durable"), Message("kept", ("tenant", "t-9"))),
                new OutgoingMessage(Destination.Queue("durable"), Message("poison")),
            ], default);
            var poison = (await before.ReceiveAsync("durable", 2, LongLease, default))[1];
            await poison.DeadLetterAsync(FailureDetails.From("bad", null, 1, "durable", _time.GetUtcNow()), default);
            _time.Advance(LongLease);
        }

        var after = NewTransport();
        var received = Assert.Single(await after.ReceiveAsync("durable", 10, LongLease, default));
        Assert.Equal("kept", Encoding.UTF8.GetString(received.Message.Body.Span));
        Assert.Equal("t-9", received.Message.Headers["tenant"]);
        Assert.Equal(1, received.ReceiveCount); // received before, but never started: no attempt counted
        var dead = Assert.Single(await after.DeadLetters.PeekAsync("durable", 10, default));
        Assert.Equal("poison", Encoding.UTF8.GetString(dead.Message.Body.Span));
        Assert.Equal("bad", dead.Failure.Reason);
    }

    [Fact]
    public async Task Receives_in_send_order_up_to_the_batch_size()
    {
        var transport = NewTransport();
        var sent = Enumerable.Range(0, 5).Select(i => Message($"m{i}")).ToList();
        await transport.SendAsync(sent.Select(m => new OutgoingMessage(Destination.Queue("fifo"), m)).ToList(), default);

        var first = await transport.ReceiveAsync("fifo", 3, LongLease, default);
        var rest = await transport.ReceiveAsync("fifo", 3, LongLease, default);

        Assert.Equal(sent.Select(m => m.MessageId), first.Concat(rest).Select(r => r.Message.MessageId));
    }

    [Fact]
    public async Task Release_does_not_count_and_abandon_does()
    {
        var transport = NewTransport();
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("counts"), Message("x"))], default);

        var first = Assert.Single(await transport.ReceiveAsync("counts", 1, LongLease, default));
        await first.AbandonAsync(TimeSpan.Zero, default);
        var second = Assert.Single(await transport.ReceiveAsync("counts", 1, LongLease, default));
        await second.ReleaseAsync(TimeSpan.FromMinutes(5), default);
        Assert.Empty(await AdvanceUntilDoneAsync(transport.ReceiveAsync("counts", 1, LongLease, default).AsTask(), TimeSpan.FromSeconds(2)));
        _time.Advance(TimeSpan.FromMinutes(5));
        var third = Assert.Single(await transport.ReceiveAsync("counts", 1, LongLease, default));

        Assert.Equal([1, 2, 2], new[] { first.ReceiveCount, second.ReceiveCount, third.ReceiveCount });
        await Assert.ThrowsAsync<LeaseLostException>(() => second.RenewLeaseAsync(LongLease, default));
        await third.CompleteAsync(default);
        await Assert.ThrowsAsync<LeaseLostException>(() => third.CompleteAsync(default));
    }

    [Fact]
    public async Task Foreign_payload_without_a_message_id_gets_one_that_redrive_and_purge_use()
    {
        var transport = NewTransport();
        var foreign = new TransportMessage(new Dictionary<string, string> { ["source"] = "aws.ecs" }, Encoding.UTF8.GetBytes("{}"));
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("foreign"), foreign)], default);

        var received = Assert.Single(await transport.ReceiveAsync("foreign", 1, LongLease, default));
        var id = received.Message.MessageId;
        Assert.False(string.IsNullOrEmpty(id));
        await received.DeadLetterAsync(FailureDetails.From("unknown payload", null, 1, "foreign", _time.GetUtcNow()), default);

        Assert.Equal(id, Assert.Single(await transport.DeadLetters.PeekAsync("foreign", 10, default)).Message.MessageId);
        Assert.Equal(0, await transport.DeadLetters.PurgeAsync("foreign", ["other-id"], default));
        Assert.Equal(1, await transport.DeadLetters.RedriveAsync("foreign", [id!], default));
        var back = Assert.Single(await transport.ReceiveAsync("foreign", 1, LongLease, default));
        Assert.Equal(id, back.Message.MessageId);
        Assert.Equal("aws.ecs", back.Message.Headers["source"]);
    }

    [Fact]
    public async Task Empty_body_round_trips()
    {
        var transport = NewTransport();
        var empty = new TransportMessage(new Dictionary<string, string> { [MessageHeaders.MessageId] = "e-1" }, ReadOnlyMemory<byte>.Empty);
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("empty"), empty)], default);

        var received = Assert.Single(await transport.ReceiveAsync("empty", 1, LongLease, default));

        Assert.Equal(0, received.Message.Body.Length);
    }

    [Fact]
    public async Task A_batch_with_an_oversized_message_sends_nothing()
    {
        var transport = new SqliteTransport(new SqliteTransportOptions { DatabasePath = _database.Path, TimeProvider = _time, MaxMessageSize = 100 });
        _transports.Add(transport);

        await Assert.ThrowsAsync<MessageTooLargeException>(() => transport.SendAsync(
        [
            new OutgoingMessage(Destination.Queue("size"), Message("small")),
            new OutgoingMessage(Destination.Queue("size"), Message(new string('x', 200))),
        ], default));

        Assert.Equal(0, await transport.CountMessagesAsync("size"));
    }

    [Fact]
    public async Task Publish_reaches_subscribers_provisioned_by_another_process()
    {
        var subscriber = NewProcess();
        var publisher = NewProcess();
        await subscriber.ProvisionAsync(new TransportTopology("billing", [], ["orders.placed"]), default);
        await subscriber.ProvisionAsync(new TransportTopology("billing", [], ["orders.placed"]), default);

        await publisher.SendAsync(
        [
            new OutgoingMessage(Destination.Topic("orders.placed"), Message("placed")),
            new OutgoingMessage(Destination.Topic("nobody.listens"), Message("lost to nobody")),
        ], default);

        Assert.Single(await subscriber.ReceiveAsync("billing", 10, LongLease, default));
    }

    [Fact]
    public async Task Schema_is_versioned_in_wal_mode_and_a_newer_schema_is_refused()
    {
        var transport = NewTransport();
        await transport.ProvisionAsync(new TransportTopology("schema", [], []), default);

        await using (var connection = new SqliteConnection(_database.ConnectionString + ";Pooling=False"))
        {
            await connection.OpenAsync();
            await using var mode = connection.CreateCommand();
            mode.CommandText = "PRAGMA journal_mode;";
            Assert.Equal("wal", (string?)await mode.ExecuteScalarAsync());
            await using var bump = connection.CreateCommand();
            bump.CommandText = "UPDATE bus_schema SET version = 99 WHERE component = 'transport';";
            Assert.Equal(1, await bump.ExecuteNonQueryAsync());
        }

        var newer = NewProcess();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => newer.ProvisionAsync(new TransportTopology("schema", [], []), default));
        Assert.Contains("99", error.Message);
    }

    [Fact]
    public async Task A_version_1_database_is_upgraded_keeping_its_messages_at_priority_0_and_then_orders_by_priority()
    {
        await using (var connection = new SqliteConnection(_database.ConnectionString + ";Pooling=False"))
        {
            await connection.OpenAsync();
            await using var create = connection.CreateCommand();
            create.CommandText = Schema.Migrations.Transport[0] + """
                CREATE TABLE bus_schema (component TEXT NOT NULL PRIMARY KEY, version INTEGER NOT NULL, updated_at TEXT NOT NULL);
                INSERT INTO bus_schema VALUES ('transport', 1, '2026-01-01T00:00:00Z');
                INSERT INTO bus_queues VALUES ('upgrade', '2026-01-01T00:00:00Z');
                INSERT INTO bus_messages (queue, message_id, headers, body, visible_at, receive_count, enqueued_at)
                VALUES ('upgrade', 'old-1', '{"bus-message-id":"old-1"}', X'6F6C64', 0, 0, 0);
                """;
            await create.ExecuteNonQueryAsync();
        }

        var transport = NewTransport();
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("upgrade"), Message("urgent", (MessageHeaders.Priority, "4")))], default);
        var batch = await transport.ReceiveAsync("upgrade", 10, LongLease, default);

        Assert.Equal(["urgent", "old"], batch.Select(m => Encoding.UTF8.GetString(m.Message.Body.Span)));
        await using var version = new SqliteConnection(_database.ConnectionString + ";Pooling=False");
        await version.OpenAsync();
        await using var read = version.CreateCommand();
        read.CommandText = "SELECT version FROM bus_schema WHERE component = 'transport';";
        Assert.Equal(2L, await read.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Disposing_ends_a_waiting_receive_empty_and_later_calls_fail()
    {
        var transport = NewTransport();
        var receive = transport.ReceiveAsync("dispose", 1, LongLease, default).AsTask();
        await UntilAsync(() => _time.PendingTimers > 0 || receive.IsCompleted);

        await transport.DisposeAsync();

        Assert.Empty(await receive.WaitAsync(TimeSpan.FromSeconds(30)));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => transport.ReceiveAsync("dispose", 1, LongLease, default).AsTask());
    }

    [Fact]
    public async Task Cancelling_a_waiting_receive_throws_operation_cancelled()
    {
        var transport = NewTransport();
        using var cancel = new CancellationTokenSource();
        var receive = transport.ReceiveAsync("cancel", 1, LongLease, cancel.Token).AsTask();
        await UntilAsync(() => _time.PendingTimers > 0 || receive.IsCompleted);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => receive.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Invalid_arguments_are_rejected()
    {
        var transport = NewTransport();

        await Assert.ThrowsAnyAsync<ArgumentException>(() => transport.ReceiveAsync(" ", 1, LongLease, default).AsTask());
        await Assert.ThrowsAnyAsync<ArgumentException>(() => transport.ReceiveAsync("q", 0, LongLease, default).AsTask());
        await Assert.ThrowsAnyAsync<ArgumentException>(() => transport.ReceiveAsync("q", 1, TimeSpan.Zero, default).AsTask());
        await Assert.ThrowsAnyAsync<ArgumentException>(() => transport.ReceiveAsync("q", 1, TimeSpan.FromDays(30), default).AsTask());
        await Assert.ThrowsAnyAsync<ArgumentException>(() => transport.DeadLetters.PeekAsync("q", 0, default));
    }

    private static TransportMessage Message(string body, params (string Name, string Value)[] headers)
    {
        var all = new Dictionary<string, string> { [MessageHeaders.MessageId] = Guid.NewGuid().ToString() };
        foreach (var (name, value) in headers)
        {
            all[name] = value;
        }

        return new TransportMessage(all, Encoding.UTF8.GetBytes(body));
    }

    /// <summary>Yields until <paramref name="condition"/> holds (no sleeping); fails after 30 real seconds.</summary>
    private static async Task UntilAsync(Func<bool> condition)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), "condition not reached");
            await Task.Yield();
        }
    }

    /// <summary>Advances the manual clock by <paramref name="total"/> in small steps, then awaits the task.</summary>
    private async Task<T> AdvanceUntilDoneAsync<T>(Task<T> task, TimeSpan total)
    {
        var step = TimeSpan.FromMilliseconds(500);
        for (var passed = TimeSpan.Zero; passed < total && !task.IsCompleted; passed += step)
        {
            _time.Advance(step);
        }

        return await task.WaitAsync(TimeSpan.FromSeconds(30));
    }
}

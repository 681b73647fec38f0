using System.Text;
using Bus.Sqlite.Schema;
using Bus.Testing;
using Bus.Transports;
using Microsoft.Data.Sqlite;

namespace Bus.Sqlite.Tests;

/// <summary>The transport's writes run on one connection; writes that queue up commit together, each in its own
/// savepoint. The queue is held on a gate write so that the writes after it are known to share one transaction.</summary>
public sealed class SqliteWriteQueueTests : IAsyncLifetime
{
    private static readonly TimeSpan LongLease = TimeSpan.FromHours(1);
    private readonly ManualTimeProvider _time = new();
    private readonly TempDatabase _database = new();
    private SqliteTransport _transport = null!;

    public Task InitializeAsync()
    {
        _transport = new SqliteTransport(new SqliteTransportOptions { DatabasePath = _database.Path, TimeProvider = _time });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _transport.DisposeAsync();
        _database.Dispose();
    }

    [Fact]
    public async Task Renewals_queued_together_commit_in_one_transaction_and_all_land()
    {
        var received = await SendAndReceiveAsync("together", 20);
        var (gate, gateWrite) = await HoldQueueAsync();
        var commitsBefore = _transport.Table.Writes.Commits;

        var renewals = received.Select(m => m.RenewLeaseAsync(LongLease * 2, default)).ToList();
        gate.SetResult();
        await gateWrite;
        await Task.WhenAll(renewals);

        Assert.Equal(2, _transport.Table.Writes.Commits - commitsBefore); // the gate's transaction, then all 20 renewals in one
        _time.Advance(LongLease + TimeSpan.FromMinutes(1)); // past the first lease, inside the renewed one
        var statistics = await _transport.Statistics.GetAsync("together", default);
        Assert.Equal((0L, (long?)20), (statistics.Ready, statistics.InFlight));
    }

    [Fact]
    public async Task A_completion_well_inside_its_lease_is_queued_and_commits_with_the_next_writes()
    {
        var received = await SendAndReceiveAsync("queued", 3);
        var (gate, gateWrite) = await HoldQueueAsync();

        // The queue is held, so nothing can commit: a completion that waited for its delete would not return.
        var completions = received.Select(m => m.CompleteAsync(default)).ToList();
        Assert.All(completions, c => Assert.True(c.IsCompletedSuccessfully));
        await Assert.ThrowsAsync<LeaseLostException>(() => received[0].CompleteAsync(default)); // settled once only
        await Assert.ThrowsAsync<LeaseLostException>(() => received[1].RenewLeaseAsync(LongLease, default));
        var commitsBefore = _transport.Table.Writes.Commits;
        gate.SetResult();
        await gateWrite;

        Assert.Equal(0, await _transport.CountMessagesAsync("queued")); // a read in this process waits for them
        Assert.True(_transport.Table.Writes.Commits - commitsBefore <= 3); // the gate's, the three completions' (and the read's wait)
    }

    [Fact]
    public async Task A_completion_near_the_end_of_its_lease_waits_for_its_delete()
    {
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue("near-end"), Message("x"))], default);
        var received = Assert.Single(await _transport.ReceiveAsync("near-end", 1, TimeSpan.FromSeconds(10), default));
        _time.Advance(TimeSpan.FromSeconds(6)); // 4 s left: under the margin
        var (gate, gateWrite) = await HoldQueueAsync();

        var completion = received.CompleteAsync(default);
        Assert.False(completion.IsCompleted);
        gate.SetResult();
        await gateWrite;
        await completion;

        Assert.Equal(0, await _transport.CountMessagesAsync("near-end"));
    }

    [Fact]
    public async Task Queued_completions_are_stored_when_the_transport_is_disposed()
    {
        var received = await SendAndReceiveAsync("disposed", 5);
        var (gate, gateWrite) = await HoldQueueAsync();
        foreach (var message in received)
        {
            await message.CompleteAsync(default);
        }

        gate.SetResult();
        await _transport.DisposeAsync(); // runs what is queued before it lets the file go
        await gateWrite;

        await using var reopened = new SqliteTransport(new SqliteTransportOptions { DatabasePath = _database.Path, TimeProvider = _time });
        Assert.Equal(0, await reopened.CountMessagesAsync("disposed"));
    }

    [Fact]
    public async Task A_statement_is_prepared_once_per_write_connection_and_reused_with_its_parameters_cleared()
    {
        await _transport.ProvisionAsync(new TransportTopology("statements", [], []), default);
        var commands = new List<Microsoft.Data.Sqlite.SqliteCommand>();
        for (var i = 0; i < 2; i++)
        {
            commands.Add(await _transport.Table.Writes.RunAsync(
                async (write, ct) =>
                {
                    var count = write.Command("SELECT COUNT(*) FROM bus_queues WHERE name = $name;");
                    Assert.Empty(count.Parameters); // the last write's parameters are gone
                    count.Parameters.AddWithValue("$name", "statements");
                    Assert.Equal(1L, await count.ExecuteScalarAsync(ct));
                    return count;
                },
                default));
        }

        Assert.Same(commands[0], commands[1]);
    }

    [Fact]
    public async Task A_failing_write_rolls_back_alone_and_the_rest_of_its_batch_commits()
    {
        var received = await SendAndReceiveAsync("failing", 3);
        var (gate, gateWrite) = await HoldQueueAsync();

        var first = received[0].CompleteAsync(default);
        var failing = _transport.Table.Writes.RunAsync<bool>(
            async (write, ct) =>
            {
                // Deletes the queue's messages, then fails: the delete must be rolled back, so the message is not lost.
                await using var delete = write.Connection.CreateCommand();
                delete.CommandText = "DELETE FROM bus_messages WHERE queue = 'failing';";
                Assert.True(await delete.ExecuteNonQueryAsync(ct) > 0);
                throw new InvalidOperationException("handler blew up mid-write");
            },
            default);
        var second = received[1].CompleteAsync(default);
        var send = _transport.SendAsync([new OutgoingMessage(Destination.Queue("failing"), Message("sent in the same batch"))], default);
        gate.SetResult();
        await gateWrite;

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => failing);
        Assert.Equal("handler blew up mid-write", error.Message);
        await first;
        await second;
        await send;
        Assert.Equal(2, await _transport.CountMessagesAsync("failing")); // the third (still leased) and the new one
        await received[2].CompleteAsync(default);
        var left = await _transport.ReceiveAsync("failing", 10, LongLease, default);
        Assert.Equal("sent in the same batch", Encoding.UTF8.GetString(Assert.Single(left).Message.Body.Span));
    }

    [Fact]
    public async Task A_stale_complete_in_a_batch_fails_alone()
    {
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue("stale"), Message("taken over"))], default);
        var stale = Assert.Single(await _transport.ReceiveAsync("stale", 1, TimeSpan.FromSeconds(10), default));
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue("stale"), Message("other"))], default);
        _time.Advance(TimeSpan.FromSeconds(11)); // the lease ended: the message is received again under a new one
        var received = await _transport.ReceiveAsync("stale", 2, LongLease, default);
        Assert.Equal(2, received.Count);
        var (gate, gateWrite) = await HoldQueueAsync();

        var again = stale.CompleteAsync(default); // past its lease: waits for its delete, which finds another lease
        var others = received.Select(m => m.RenewLeaseAsync(LongLease, default)).ToList();
        gate.SetResult();
        await gateWrite;

        await Assert.ThrowsAsync<LeaseLostException>(() => again);
        await Task.WhenAll(others);
        Assert.Equal(2, await _transport.CountMessagesAsync("stale"));
    }

    [Fact]
    public async Task A_write_cancelled_while_queued_is_not_stored()
    {
        await _transport.ProvisionAsync(new TransportTopology("cancelled", [], []), default);
        var (gate, gateWrite) = await HoldQueueAsync();
        using var cancel = new CancellationTokenSource();

        var send = _transport.SendAsync([new OutgoingMessage(Destination.Queue("cancelled"), Message("never"))], cancel.Token);
        await cancel.CancelAsync();
        gate.SetResult();
        await gateWrite;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send);
        Assert.Equal(0, await _transport.CountMessagesAsync("cancelled"));
    }

    [Fact]
    public async Task Dispose_finishes_the_writes_already_queued()
    {
        var received = await SendAndReceiveAsync("dispose", 5);
        var (gate, _) = await HoldQueueAsync();
        var completes = received.Select(m => m.CompleteAsync(default)).ToList();

        var disposed = _transport.DisposeAsync().AsTask();
        gate.SetResult();
        await disposed;
        await Task.WhenAll(completes);

        await using var reopened = new SqliteTransport(new SqliteTransportOptions { DatabasePath = _database.Path, TimeProvider = _time });
        Assert.Equal(0, await reopened.CountMessagesAsync("dispose"));
    }

    [Fact]
    public async Task Takes_attempt_starts_and_completes_alone_commit_without_waiting_for_the_disk()
    {
        var received = await SendAndReceiveAsync("bookkeeping", 2);
        var (gate, gateWrite) = await HoldQueueAsync();
        var unflushedBefore = _transport.Table.Writes.UnflushedCommits;

        var begin = received[0].BeginAttemptAsync(default).AsTask();
        var complete = received[1].CompleteAsync(default);
        var level = SynchronousInsideTransactionAsync();
        gate.SetResult();
        await gateWrite;
        await begin;
        await complete;

        Assert.Equal(1L, await level); // NORMAL: the commit does not wait for the disk
        Assert.Equal(1, _transport.Table.Writes.UnflushedCommits - unflushedBefore);
        Assert.Equal(1, await _transport.CountMessagesAsync("bookkeeping"));
    }

    [Fact]
    public async Task A_send_queued_with_bookkeeping_writes_flushes_their_commit()
    {
        var received = await SendAndReceiveAsync("flushed", 1);
        var (gate, gateWrite) = await HoldQueueAsync();
        var unflushedBefore = _transport.Table.Writes.UnflushedCommits;

        var complete = received[0].CompleteAsync(default);
        var send = _transport.SendAsync([new OutgoingMessage(Destination.Queue("flushed"), Message("durable"))], default);
        var level = SynchronousInsideTransactionAsync();
        gate.SetResult();
        await gateWrite;
        await complete;
        await send;

        Assert.Equal(2L, await level); // FULL: the send's commit waits for the disk, and so the completion's too
        Assert.Equal(0, _transport.Table.Writes.UnflushedCommits - unflushedBefore);

        // The next commit of only bookkeeping goes back to NORMAL, and a send after it to FULL again.
        var taken = Assert.Single(await _transport.ReceiveAsync("flushed", 1, LongLease, default));
        Assert.Equal(1L, await SynchronousInsideTransactionAsync());
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue("flushed"), Message("again"))], default);
        await taken.CompleteAsync(default);
        Assert.Equal(1, await _transport.CountMessagesAsync("flushed"));
    }

    [Theory]
    [InlineData(SqliteSynchronous.Full, 2L)]
    [InlineData(SqliteSynchronous.Normal, 1L)]
    public async Task Connections_use_the_chosen_synchronous_level(SqliteSynchronous synchronous, long expected)
    {
        var database = new SqliteDatabase(_database.ConnectionString, synchronous);
        await using var connection = await database.OpenAsync(default);
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous;";

        Assert.Equal(expected, await pragma.ExecuteScalarAsync());
    }

    private async Task<List<IReceivedMessage>> SendAndReceiveAsync(string queue, int count)
    {
        await _transport.SendAsync(
            Enumerable.Range(0, count).Select(i => new OutgoingMessage(Destination.Queue(queue), Message($"m{i}"))).ToList(), default);
        var received = await _transport.ReceiveAsync(queue, count, LongLease, default);
        Assert.Equal(count, received.Count);
        return received.ToList();
    }

    /// <summary>Queues a bookkeeping write that reads the synchronous level its transaction commits at (1 NORMAL, 2 FULL).</summary>
    private Task<long> SynchronousInsideTransactionAsync() =>
        _transport.Table.Writes.RunAsync(
            async (write, ct) =>
            {
                await using var pragma = write.Connection.CreateCommand();
                pragma.CommandText = "PRAGMA synchronous;";
                return (long)(await pragma.ExecuteScalarAsync(ct))!;
            },
            default,
            flush: false);

    /// <summary>Queues a write that waits for the returned gate, so the writes queued next share the following transaction.</summary>
    private async Task<(TaskCompletionSource Gate, Task<bool> Write)> HoldQueueAsync()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gateWrite = _transport.Table.Writes.RunAsync(
            async (_, _) =>
            {
                started.SetResult();
                await gate.Task;
                return true;
            },
            default);
        await started.Task; // the gate write holds the queue before anything else is queued
        return (gate, gateWrite);
    }

    private static TransportMessage Message(string body) =>
        new(new Dictionary<string, string> { [MessageHeaders.MessageId] = Guid.NewGuid().ToString() }, Encoding.UTF8.GetBytes(body));
}

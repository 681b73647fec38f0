using System.Text;
using Bus.Conformance;
using Bus.Hosting;
using Bus.Testing;
using Bus.Transports;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Bus.PostgreSql.Tests;

/// <summary>What the PostgreSQL transport adds to the contract: wake-ups between hosts, the transactional outbox, the
/// dead-letter table, batched renewals.</summary>
public sealed class PostgreSqlTransportTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _time = new();
    private readonly TestSchema _schema = new();
    private readonly List<PostgreSqlTransport> _transports = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var transport in _transports)
        {
            await transport.DisposeAsync();
        }

        await _schema.DisposeAsync();
    }

    [Fact]
    public async Task A_send_by_another_host_wakes_a_waiting_receiver_through_notify()
    {
        // A poll interval of five minutes on a clock that never moves: only a NOTIFY can end the wait.
        var clock = new WaitWatchingClock(_time, TimeSpan.FromMinutes(1));
        var receiver = Transport(o =>
        {
            o.PollInterval = TimeSpan.FromMinutes(5);
            o.TimeProvider = clock;
        });
        var sender = Transport(o => o.PollInterval = TimeSpan.FromMinutes(5));
        await receiver.ProvisionAsync(new TransportTopology("wake", [], []), default);

        var receiving = receiver.ReceiveAsync("wake", 1, TimeSpan.FromMinutes(1), default).AsTask();
        await clock.Waiting.WaitAsync(TimeSpan.FromSeconds(10)); // the receive found the queue empty and waits for its poll
        Assert.False(receiving.IsCompleted);
        await sender.SendAsync([new OutgoingMessage(Destination.Queue("wake"), Message("hello"))], default);

        var received = Assert.Single(await receiving.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("hello", Encoding.UTF8.GetString(received.Message.Body.Span));
        await received.CompleteAsync(default);
    }

    [Fact]
    public async Task Events_fan_out_to_every_subscriber_in_one_statement_and_redrive_keeps_identity()
    {
        var transport = Transport();
        await transport.ProvisionAsync(new TransportTopology("fan-a", ["orders.placed"], ["orders.placed"]), default);
        await transport.ProvisionAsync(new TransportTopology("fan-b", ["orders.placed"], ["orders.placed"]), default);
        var sent = Message("placed");

        await transport.SendAsync([new OutgoingMessage(Destination.Topic("orders.placed"), sent)], default);

        Assert.Equal(1, await transport.CountMessagesAsync("fan-a"));
        Assert.Equal(1, await transport.CountMessagesAsync("fan-b"));
    }

    [Fact]
    public async Task Dead_letters_keep_the_failure_details_in_columns_and_redrive_restores_the_original()
    {
        var transport = Transport();
        var sent = Message("poison", ("custom", "kept"));
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("dlq"), sent)], default);
        var received = Assert.Single(await transport.ReceiveAsync("dlq", 1, TimeSpan.FromMinutes(1), default));

        await received.DeadLetterAsync(
            FailureDetails.From("Attempts exhausted (1 of 1)", new InvalidOperationException("boom"), 1, "dlq", _time.GetUtcNow()), default);

        await using (var connection = new NpgsqlConnection(_schema.ConnectionString))
        {
            await connection.OpenAsync();
            await using var select = new NpgsqlCommand(
                $"SELECT reason, exception_type, exception_message, attempts, source_queue, message_id, headers->>'custom' FROM \"{_schema.Name}\".dead_letters;",
                connection);
            await using var reader = await select.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal("Attempts exhausted (1 of 1)", reader.GetString(0));
            Assert.Equal(typeof(InvalidOperationException).FullName, reader.GetString(1));
            Assert.Equal("boom", reader.GetString(2));
            Assert.Equal(1, reader.GetInt32(3));
            Assert.Equal("dlq", reader.GetString(4));
            Assert.Equal(sent.MessageId, reader.GetString(5));
            Assert.Equal("kept", reader.GetString(6));
            Assert.False(await reader.ReadAsync());
        }

        var dead = Assert.Single(await transport.DeadLetters.PeekAsync("dlq", 10, default));
        Assert.Equal("boom", dead.Failure.ExceptionMessage);
        Assert.Equal(_time.GetUtcNow(), dead.Failure.FailedAt);
        Assert.Equal(1, await transport.DeadLetters.RedriveAsync("dlq", [sent.MessageId!], default));

        var again = Assert.Single(await transport.ReceiveAsync("dlq", 1, TimeSpan.FromMinutes(1), default));
        Assert.Equal(sent.MessageId, again.Message.MessageId);
        Assert.Equal(1, again.ReceiveCount);
        Assert.DoesNotContain(again.Message.Headers.Keys, MessageHeaders.IsFailureHeader);
        Assert.Equal(0, await transport.CountDeadLettersAsync("dlq"));
    }

    [Fact]
    public async Task Dead_letters_are_listed_in_sql_by_row_so_one_removed_between_pages_shifts_nothing()
    {
        var transport = Transport();
        var sent = Enumerable.Range(0, 5).Select(i => Message($"m{i}", (MessageHeaders.MessageType, i == 4 ? "pg.other" : "pg.listed"))).ToList();
        await transport.SendAsync(sent.Select(m => new OutgoingMessage(Destination.Queue("dlq-pages"), m)).ToList(), default);
        foreach (var received in await transport.ReceiveAsync("dlq-pages", 5, TimeSpan.FromMinutes(1), default))
        {
            await received.DeadLetterAsync(FailureDetails.From("Ärger: Attempts exhausted", null, 1, "dlq-pages", _time.GetUtcNow()), default);
        }

        var query = new DeadLetterQuery { MessageTypes = ["pg.listed"], ReasonContains = "ärger: ATTEMPTS", PageSize = 2 };
        var first = await transport.DeadLetters.ListAsync("dlq-pages", query, default);
        Assert.Equal([sent[0].MessageId, sent[1].MessageId], first.Items.Select(d => d.Message.MessageId));
        Assert.StartsWith("r:", first.ContinuationToken);

        // Paging by position would now skip the third; paging after the last row id does not.
        Assert.Equal(1, await transport.DeadLetters.PurgeAsync("dlq-pages", [sent[0].MessageId!], default));
        var second = await transport.DeadLetters.ListAsync("dlq-pages", query with { ContinuationToken = first.ContinuationToken }, default);

        Assert.Equal([sent[2].MessageId, sent[3].MessageId], second.Items.Select(d => d.Message.MessageId));
        Assert.Null(second.ContinuationToken);
        await Assert.ThrowsAsync<ArgumentException>(() => transport.DeadLetters.ListAsync("dlq-pages", query with { ContinuationToken = "o:2" }, default));
    }

    [Fact]
    public async Task Leases_renewed_together_report_each_lost_one_and_extend_the_others()
    {
        var transport = Transport();
        await transport.SendAsync(
            Enumerable.Range(1, 20).Select(i => new OutgoingMessage(Destination.Queue("renew"), Message($"m{i}"))).ToList(), default);
        var received = await transport.ReceiveAsync("renew", 20, TimeSpan.FromMinutes(1), default);
        Assert.Equal(20, received.Count);
        await StealLeaseAsync(received[7].Message.MessageId!);

        var renewals = received.Select(r => r.RenewLeaseAsync(TimeSpan.FromMinutes(10), default)).ToList();
        var outcomes = await Task.WhenAll(renewals.Select(async r =>
        {
            try
            {
                await r;
                return true;
            }
            catch (LeaseLostException)
            {
                return false;
            }
        }));

        Assert.Equal(19, outcomes.Count(held => held));
        Assert.False(outcomes[7]);
        _time.Advance(TimeSpan.FromMinutes(5)); // past the first lease: only the one whose lease was lost comes back
        var back = Assert.Single(await transport.ReceiveAsync("renew", 20, TimeSpan.FromMinutes(1), default));
        Assert.Equal(received[7].Message.MessageId, back.Message.MessageId);
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 2)]
    public async Task Sends_of_a_handler_are_written_with_the_completion_of_its_message(bool transactionalSends, int expectedFollowUps)
    {
        // The handler sends a follow-up, then its lease is taken over before the message is completed: the completion
        // fails, and with the outbox the follow-up is rolled back with it. The retry sends it again and completes.
        var endpoint = "outbox-" + Guid.NewGuid().ToString("N")[..8];
        var target = endpoint + "-target";
        var thief = new LeaseThief(_schema);
        using var probe = new BusProbe();
        await using var worker = await TestEndpoint.StartAsync(
            endpoint,
            _time,
            services => services.AddSingleton(thief),
            bus =>
            {
                bus.UsePostgreSql(o =>
                {
                    o.ConnectionString = _schema.ConnectionString;
                    o.Schema = _schema.Name;
                    o.TransactionalSends = transactionalSends;
                });
                bus.AllowInMemoryStores = true; // one host, no memoised steps
                bus.RouteCommand<FollowUp>(target);
                bus.AddHandler<StartHandler>();
            });

        await worker.Bus.SendAsync(new Start(), new DeliveryOptions { Destination = endpoint });
        await new TimeDriver(_time, TimeSpan.FromSeconds(30)).AwaitAsync(probe.WhenAsync(endpoint, "bus.messages.completed", 1));

        var transport = Transport();
        Assert.Equal(expectedFollowUps, await transport.CountMessagesAsync(target));
        Assert.Equal(0, await transport.CountMessagesAsync(endpoint));
    }

    private PostgreSqlTransport Transport(Action<PostgreSqlTransportOptions>? configure = null)
    {
        var options = new PostgreSqlTransportOptions { ConnectionString = _schema.ConnectionString, Schema = _schema.Name, TimeProvider = _time };
        configure?.Invoke(options);
        var transport = new PostgreSqlTransport(options);
        _transports.Add(transport);
        return transport;
    }

    private Task StealLeaseAsync(string messageId) =>
        TestSchema.ExecuteAsync($"UPDATE \"{_schema.Name}\".messages SET lease_token = gen_random_uuid() WHERE message_id = '{messageId}';");

    private static TransportMessage Message(string body, params (string Name, string Value)[] headers)
    {
        var all = headers.ToDictionary(h => h.Name, h => h.Value);
        all[MessageHeaders.MessageId] = Guid.NewGuid().ToString();
        return new TransportMessage(all, Encoding.UTF8.GetBytes(body));
    }

    /// <summary>A manual clock that says when a wait of at least <paramref name="atLeast"/> is armed on it: a receiver arms
    /// its poll wait only after it took its wake-up signal and found its queue empty.</summary>
    private sealed class WaitWatchingClock(ManualTimeProvider inner, TimeSpan atLeast) : TimeProvider
    {
        private readonly TaskCompletionSource _waiting = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Waiting => _waiting.Task;

        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

        public override long TimestampFrequency => inner.TimestampFrequency;

        public override long GetTimestamp() => inner.GetTimestamp();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = inner.CreateTimer(callback, state, dueTime, period);
            if (dueTime >= atLeast && dueTime != Timeout.InfiniteTimeSpan)
            {
                _waiting.TrySetResult();
            }

            return timer;
        }
    }

    [MessageName("pg-tests.start")]
    public sealed record Start : ICommand;

    [MessageName("pg-tests.follow-up")]
    public sealed record FollowUp : ICommand;

    public sealed record LeaseThief(TestSchema Schema);

    public sealed class StartHandler(LeaseThief thief) : IHandleMessages<Start>
    {
        public async Task HandleAsync(Start message, IMessageContext context)
        {
            await context.Bus.SendAsync(new FollowUp());
            if (context.Attempt == 1)
            {
                await TestSchema.ExecuteAsync(
                    $"UPDATE \"{thief.Schema.Name}\".messages SET lease_token = gen_random_uuid() WHERE message_id = '{context.MessageId}';");
            }
        }
    }
}

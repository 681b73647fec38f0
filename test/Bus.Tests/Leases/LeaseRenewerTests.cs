using Bus.Leases;
using Bus.Testing;
using Bus.Transports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bus.Tests.Leases;

/// <summary>One delivery's lease renewer: heartbeats, the max runtime, extensions, the transport's total lease time.</summary>
public sealed class LeaseRenewerTests
{
    private static readonly ExecutionProfile Profile = new()
    {
        LeaseDuration = TimeSpan.FromMinutes(5),
        HeartbeatInterval = TimeSpan.FromMinutes(1),
        MaxRuntime = TimeSpan.FromMinutes(30),
    };

    private static readonly TransportCapabilities Capabilities = new()
    {
        Name = "test",
        CanRenewLease = true,
        MaxLeaseDuration = TimeSpan.FromHours(12),
        MaxDelay = TimeSpan.FromDays(1),
        PublishSubscribe = false,
        Redrive = false,
    };

    private readonly ManualTimeProvider _time = new();

    [Fact]
    public async Task Every_lease_gets_its_first_heartbeat_at_its_own_time()
    {
        var start = _time.GetUtcNow();
        var early = new RecordingMessage("early", _time);
        var late = new RecordingMessage("late", _time);
        await using var first = Renewer(early);
        _time.Advance(TimeSpan.FromSeconds(10));
        await using var second = Renewer(late);

        _time.Advance(TimeSpan.FromSeconds(49));
        Assert.Empty(early.Renewals);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([start + TimeSpan.FromMinutes(1)], early.Renewals);
        Assert.Empty(late.Renewals);
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal([start + TimeSpan.FromSeconds(70)], late.Renewals);
    }

    [Fact]
    public async Task A_stopped_lease_is_never_renewed_and_leaves_no_timer_behind()
    {
        var stopped = new List<RecordingMessage>();
        for (var i = 0; i < 50; i++)
        {
            // Short handlers: received, handled and settled long before any deadline.
            var message = new RecordingMessage($"short-{i}", _time);
            stopped.Add(message);
            await using var renewer = Renewer(message);
            renewer.BeginHandling(CancellationToken.None);
            await renewer.StopAsync();
        }

        Assert.Equal(0, _time.PendingTimers);
        var live = new RecordingMessage("live", _time);
        await using var running = Renewer(live);
        var start = _time.GetUtcNow();
        running.BeginHandling(CancellationToken.None);
        var token = running.HandlerToken;

        _time.Advance(Profile.MaxRuntime - TimeSpan.FromTicks(1));
        Assert.False(token.IsCancellationRequested);
        _time.Advance(TimeSpan.FromTicks(1));

        Assert.True(token.IsCancellationRequested);
        Assert.True(running.IsRuntimeExceeded);
        Assert.All(stopped, m => Assert.Empty(m.Renewals));
        Assert.Equal(start + TimeSpan.FromMinutes(1), live.Renewals[0]);
        Assert.Equal(0, _time.PendingTimers); // the loop ended at the max runtime
    }

    [Fact]
    public async Task A_handler_token_first_read_after_the_max_runtime_or_a_hard_stop_is_already_cancelled()
    {
        await using var late = Renewer(new RecordingMessage("late", _time));
        late.BeginHandling(CancellationToken.None);
        _time.Advance(Profile.MaxRuntime);
        Assert.True(late.IsRuntimeExceeded);
        Assert.True(late.HandlerToken.IsCancellationRequested); // made on this read, cancelled already

        using var hardStop = new CancellationTokenSource();
        await hardStop.CancelAsync();
        await using var stopped = Renewer(new RecordingMessage("stopped", _time));
        stopped.BeginHandling(hardStop.Token);
        Assert.True(stopped.HandlerToken.IsCancellationRequested);

        using var laterHardStop = new CancellationTokenSource();
        await using var handling = Renewer(new RecordingMessage("handling", _time));
        handling.BeginHandling(laterHardStop.Token);
        var token = handling.HandlerToken;
        Assert.False(token.IsCancellationRequested);
        await laterHardStop.CancelAsync();
        Assert.True(token.IsCancellationRequested);
        Assert.Equal(token, handling.HandlerToken); // one source per handler
    }

    [Theory]
    [InlineData(10, 0)] // the max runtime comes before the first heartbeat (at 1 min)
    [InlineData(150, 0)] // after it: heartbeats run first
    [InlineData(150, 90)] // handling starts after the first heartbeat came
    public async Task The_max_runtime_cancels_the_handler_at_its_exact_time_whether_before_or_after_the_first_heartbeat(int maxRuntimeSeconds, int bufferedSeconds)
    {
        var message = new RecordingMessage("runtime", _time);
        await using var renewer = Renewer(message, Profile with { MaxRuntime = TimeSpan.FromSeconds(maxRuntimeSeconds) });
        await Task.Run(() => _time.Advance(TimeSpan.FromSeconds(bufferedSeconds)));

        renewer.BeginHandling(CancellationToken.None);
        var token = renewer.HandlerToken;
        await Task.Run(() => _time.Advance(TimeSpan.FromSeconds(maxRuntimeSeconds) - TimeSpan.FromTicks(1)));
        Assert.False(token.IsCancellationRequested);
        Assert.False(renewer.IsRuntimeExceeded);
        await Task.Run(() => _time.Advance(TimeSpan.FromTicks(1)));

        Assert.True(token.IsCancellationRequested);
        Assert.True(renewer.IsRuntimeExceeded);
        Assert.Equal(bufferedSeconds + maxRuntimeSeconds >= 60, message.Renewals.Count > 0); // heartbeats ran meanwhile
    }

    [Fact]
    public async Task A_slow_renewal_does_not_push_later_heartbeats_back()
    {
        var start = _time.GetUtcNow();
        var message = new RecordingMessage("slow", _time) { Hold = new TaskCompletionSource() };
        await using var renewer = Renewer(message);

        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal([start + TimeSpan.FromMinutes(1)], message.Renewals);
        _time.Advance(TimeSpan.FromSeconds(20)); // the renewal call takes 20 s
        var held = message.Hold;
        message.Hold = null;
        held.SetResult();

        // The renewal returns; the renewer then arms its wait for the next heartbeat (its continuation may be queued).
        var patience = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (_time.PendingTimers == 0 && DateTime.UtcNow < patience)
        {
            await Task.Yield();
        }

        Assert.Equal(1, _time.PendingTimers);

        _time.Advance(TimeSpan.FromSeconds(39));
        Assert.Single(message.Renewals);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([start + TimeSpan.FromMinutes(1), start + TimeSpan.FromMinutes(2)], message.Renewals);
    }

    [Fact]
    public async Task An_extension_is_bounded_by_the_max_runtime_left_and_refused_once_it_is_reached()
    {
        var message = new RecordingMessage("extend", _time);
        await using var renewer = new LeaseRenewer(message, Profile with { AutomaticRenewal = false }, new EndpointLeases(Capabilities, _time, NullLogger.Instance, new("bus.endpoint", "test")));
        Assert.True(await renewer.StartAsync());
        renewer.BeginHandling(CancellationToken.None);

        _time.Advance(TimeSpan.FromMinutes(25));
        var expiry = await renewer.ExtendAsync(TimeSpan.FromHours(1), default);

        // The 5 minutes of runtime left and one heartbeat interval to settle in, not an hour.
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromMinutes(6), expiry);

        // An extension never shortens the lease held: asking for 1 minute keeps the 6.
        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(expiry, await renewer.ExtendAsync(TimeSpan.FromMinutes(1), default));

        _time.Advance(TimeSpan.FromMinutes(3));
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => renewer.ExtendAsync(TimeSpan.FromMinutes(1), default));
        Assert.Contains("max runtime", refused.Message);
        Assert.Equal(2, message.Renewals.Count);
    }

    [Fact]
    public async Task Renewals_never_reach_past_the_transports_total_lease_time_and_an_extension_after_it_is_refused()
    {
        var capped = Capabilities with { Name = "sqs-like", MaxTotalLeaseTime = TimeSpan.FromMinutes(10) };
        var message = new RecordingMessage("capped", _time);
        var start = _time.GetUtcNow();
        await using var renewer = new LeaseRenewer(message, Profile, new EndpointLeases(capped, _time, NullLogger.Instance, new("bus.endpoint", "test")));
        Assert.True(await renewer.StartAsync());
        renewer.BeginHandling(CancellationToken.None);

        // Off the test framework's synchronization context: there each heartbeat's continuation would be queued instead
        // of running at its own time inside Advance, as it does on a plain thread.
        await Task.Run(() => _time.Advance(TimeSpan.FromMinutes(12)));

        var cap = start + TimeSpan.FromMinutes(10);
        Assert.Equal(Enumerable.Repeat(Profile.LeaseDuration, 5), message.Durations.Take(5)); // full leases while they fit
        Assert.Equal(TimeSpan.FromMinutes(4), message.Durations[5]); // then only what is left
        Assert.All(message.Renewals.Zip(message.Durations), r => Assert.True(r.First + r.Second <= cap, $"renewed past the cap at {r.First}"));
        Assert.True(message.Renewals[^1] < cap);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => renewer.ExtendAsync(TimeSpan.FromMinutes(1), default));
        Assert.Contains("has been leased for the sqs-like transport's maximum of 00:10:00", refused.Message);
    }

    [Fact]
    public async Task A_heartbeat_due_while_the_message_waited_prefetched_is_made_before_the_handler_starts()
    {
        var received = _time.GetUtcNow();
        var message = new RecordingMessage("prefetched", _time);
        _time.Advance(TimeSpan.FromSeconds(90)); // waited for a worker past its first heartbeat (at 1 minute)

        await using var renewer = new LeaseRenewer(message, Profile, new EndpointLeases(Capabilities, _time, NullLogger.Instance, new("bus.endpoint", "test")), received);
        Assert.True(await renewer.StartAsync());

        Assert.Equal([received + TimeSpan.FromSeconds(90)], message.Renewals);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(2, message.Renewals.Count); // and on from there
    }

    [Fact]
    public async Task A_lease_mostly_spent_by_a_slow_receive_gets_its_first_heartbeat_before_it_ends()
    {
        // The transport leased the message for 5 minutes; its receive returned (the worker read the clock) with 0.8 s of
        // that left: less than the 1 s heartbeats are kept apart by when renewals fail.
        var message = new RecordingMessage("slow-receive", _time);
        var leaseEnds = message.LeaseExpiresAt;
        _time.Advance(Profile.LeaseDuration - TimeSpan.FromMilliseconds(800));
        var received = _time.GetUtcNow();

        await using var renewer = new LeaseRenewer(message, Profile, new EndpointLeases(Capabilities, _time, NullLogger.Instance, new("bus.endpoint", "test")), received);
        Assert.True(await renewer.StartAsync());
        Assert.Empty(message.Renewals); // not due yet
        await Task.Run(() => _time.Advance(TimeSpan.FromMilliseconds(799)));

        // Halfway through what was left, before the lease ended (not 1 s after the receive, when another worker could
        // have taken the message already).
        Assert.Equal([received + TimeSpan.FromMilliseconds(400)], message.Renewals);
        Assert.True(message.Renewals[0] < leaseEnds);
    }

    [Fact]
    public async Task A_prefetched_message_taken_by_another_worker_meanwhile_does_not_start()
    {
        var received = _time.GetUtcNow();
        var message = new RecordingMessage("taken", _time) { Lost = true };
        _time.Advance(TimeSpan.FromMinutes(2));

        await using var renewer = new LeaseRenewer(message, Profile, new EndpointLeases(Capabilities, _time, NullLogger.Instance, new("bus.endpoint", "test")), received);

        Assert.False(await renewer.StartAsync());
        Assert.True(renewer.IsLeaseLost);
        Assert.Equal(0, _time.PendingTimers);
    }

    [Fact]
    public async Task A_workers_renewer_holds_deliveries_one_after_another_and_an_ended_one_touches_nothing()
    {
        await using var renewer = new LeaseRenewer(new EndpointLeases(Capabilities, _time, NullLogger.Instance, new("bus.endpoint", "test")));
        var first = new RecordingMessage("first", _time);
        var one = renewer.Hold(first, Profile, _time.GetUtcNow());
        Assert.True(await renewer.StartAsync());
        renewer.BeginHandling(CancellationToken.None);
        Assert.Throws<InvalidOperationException>(() => renewer.Hold(first, Profile, _time.GetUtcNow())); // one at a time
        await renewer.StopAsync();
        await renewer.EndAsync();

        var second = new RecordingMessage("second", _time);
        var two = renewer.Hold(second, Profile, _time.GetUtcNow());
        Assert.NotEqual(one, two);
        Assert.True(await renewer.StartAsync());

        // A context kept past its delivery: its token is cancelled and its extension refused; the next delivery is untouched.
        Assert.True(renewer.TokenFor(one).IsCancellationRequested);
        Assert.False(renewer.TokenFor(two).IsCancellationRequested);
        await Assert.ThrowsAsync<LeaseLostException>(() => renewer.ExtendAsync(one, TimeSpan.FromMinutes(1), default));
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Empty(first.Renewals);
        Assert.Single(second.Renewals);
    }

    /// <summary>A renewer, started (its first heartbeat is in the future, so that completes at once).</summary>
    private LeaseRenewer Renewer(IReceivedMessage message, ExecutionProfile? profile = null)
    {
        var renewer = new LeaseRenewer(message, profile ?? Profile, new EndpointLeases(Capabilities, _time, NullLogger.Instance, new("bus.endpoint", "test")));
        Assert.True(renewer.StartAsync().AsTask().IsCompletedSuccessfully);
        return renewer;
    }

    private sealed class RecordingMessage(string id, TimeProvider time) : IReceivedMessage
    {
        private readonly DateTimeOffset _received = time.GetUtcNow();
        private DateTimeOffset? _expires;

        public List<DateTimeOffset> Renewals { get; } = [];

        public List<TimeSpan> Durations { get; } = [];

        public TransportMessage Message { get; } = new(new Dictionary<string, string> { [MessageHeaders.MessageId] = id }, Array.Empty<byte>());

        public string Queue => "q";

        public int ReceiveCount => 1;

        public DateTimeOffset LeaseExpiresAt => _expires ?? _received + Profile.LeaseDuration;

        /// <summary>When set, renewals find the lease lost (another worker took the message).</summary>
        public bool Lost { get; init; }

        /// <summary>When set, a renewal returns only once this completes (a slow call to the broker).</summary>
        public TaskCompletionSource? Hold { get; set; }

        public async Task<DateTimeOffset> RenewLeaseAsync(TimeSpan duration, CancellationToken cancellationToken)
        {
            lock (Renewals)
            {
                Renewals.Add(time.GetUtcNow());
                Durations.Add(duration);
            }

            if (Lost)
            {
                throw new LeaseLostException($"'{id}' was taken by another worker.");
            }

            if (Hold is { } hold)
            {
                await hold.Task.ConfigureAwait(false);
            }

            _expires = time.GetUtcNow() + duration;
            return _expires.Value;
        }

        public Task CompleteAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task AbandonAsync(TimeSpan delay, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task ReleaseAsync(TimeSpan delay, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task DeadLetterAsync(FailureDetails failure, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

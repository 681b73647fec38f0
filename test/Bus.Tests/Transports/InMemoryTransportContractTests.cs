using System.Text;
using Bus.Conformance;
using Bus.Testing;
using Bus.Tests.Support;
using Bus.Transports;
using Bus.Transports.InMemory;

namespace Bus.Tests.Transports;

public sealed class InMemoryTransportContractTests : TransportContractTests
{
    private readonly ManualTimeProvider _time = new();

    protected override TimeProvider Time => _time;

    protected override Task<ITransport> CreateTransportAsync() =>
        Task.FromResult<ITransport>(new InMemoryTransport(new InMemoryBroker(_time), new InMemoryTransportOptions { MaxMessageSize = 64 * 1024 }));

    [Fact]
    public async Task Cancelling_the_token_of_a_receive_that_already_ended_leaves_the_next_waiting_receive_alone()
    {
        // Waiting receives reuse their waiter once its result is read; the first receive's cancellation must not reach
        // the second, which waits on the same (reused) waiter.
        var queue = await NewQueueAsync("reuse");
        using var first = new CancellationTokenSource();
        var firstReceive = Transport.ReceiveAsync(queue, 1, TimeSpan.FromMinutes(1), first.Token).AsTask();
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), Message("one"))], default);
        Assert.Equal("one", Encoding.UTF8.GetString(Assert.Single(await firstReceive.WaitAsync(TimeSpan.FromSeconds(10))).Message.Body.Span));

        using var second = new CancellationTokenSource();
        var secondReceive = Transport.ReceiveAsync(queue, 1, TimeSpan.FromMinutes(1), second.Token).AsTask();
        await first.CancelAsync();
        Assert.False(secondReceive.IsCompleted);

        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), Message("two"))], default);
        Assert.Equal("two", Encoding.UTF8.GetString(Assert.Single(await secondReceive.WaitAsync(TimeSpan.FromSeconds(10))).Message.Body.Span));

        // A cancelled waiting receive ends as cancelled, and the one after it still receives.
        using var third = new CancellationTokenSource();
        var thirdReceive = Transport.ReceiveAsync(queue, 1, TimeSpan.FromMinutes(1), third.Token).AsTask();
        await third.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => thirdReceive.WaitAsync(TimeSpan.FromSeconds(10)));
        var fourthReceive = Transport.ReceiveAsync(queue, 1, TimeSpan.FromMinutes(1), default).AsTask();
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), Message("three"))], default);
        Assert.Equal("three", Encoding.UTF8.GetString(Assert.Single(await fourthReceive.WaitAsync(TimeSpan.FromSeconds(10))).Message.Body.Span));
    }

    [Fact]
    public async Task A_waiting_receive_wakes_at_the_exact_due_time_of_a_message_due_at_a_fraction_of_a_millisecond()
    {
        // Jittered retry delays are not whole milliseconds. A test clock moved to exactly the due time must wake the
        // waiting receiver: a wait truncated to whole milliseconds would spin, one rounded up would never end.
        var queue = await NewQueueAsync("exact");
        var due = TimeSpan.FromTicks(17_345); // 1.7345 ms
        var headers = new Dictionary<string, string> { [MessageHeaders.MessageId] = "exact-1" };
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), new TransportMessage(headers, Encoding.UTF8.GetBytes("x")), _time.GetUtcNow() + due)], default);

        var receive = Transport.ReceiveAsync(queue, 1, TimeSpan.FromMinutes(1), default).AsTask();
        _time.Advance(due - TimeSpan.FromTicks(1));
        Assert.False(receive.IsCompleted);
        _time.Advance(TimeSpan.FromTicks(1));

        var received = Assert.Single(await receive.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("exact-1", received.Message.MessageId);
    }

    [Fact]
    public async Task A_waiting_receive_wakes_when_the_clock_reaches_the_due_time_while_it_arms_its_wait()
    {
        // The harness moves the clock to a retry's due time as soon as the endpoint looks idle; a receiver that read
        // "due in 0.83 s" just before must still wake, not 0.83 s after the clock stopped.
        var due = TimeSpan.FromTicks(8_293_424);
        var racing = new ClockMovingWhileArming(_time, due);
        await using var transport = new InMemoryTransport(new InMemoryBroker(racing));
        var queue = $"racing-{Guid.NewGuid():N}";
        await transport.ProvisionAsync(new TransportTopology(queue, [], []), default);
        var headers = new Dictionary<string, string> { [MessageHeaders.MessageId] = "racing-1" };
        await transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), new TransportMessage(headers, Encoding.UTF8.GetBytes("x")), _time.GetUtcNow() + due)], default);

        var received = Assert.Single(await transport.ReceiveAsync(queue, 1, TimeSpan.FromMinutes(1), default).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal("racing-1", received.Message.MessageId);
    }

    [Fact]
    public async Task A_long_poll_returns_nothing_when_its_time_is_up_and_throws_when_its_caller_cancels()
    {
        var queue = await NewQueueAsync("poll");

        var empty = Transport.ReceiveAsync(queue, 1, TimeSpan.FromMinutes(1), default).AsTask();
        _time.Advance(new InMemoryTransportOptions().LongPollTime - TimeSpan.FromMilliseconds(1));
        Assert.False(empty.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Empty(await empty.WaitAsync(TimeSpan.FromSeconds(10)));

        using var cancel = new CancellationTokenSource();
        var cancelled = Transport.ReceiveAsync(queue, 1, TimeSpan.FromMinutes(1), cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(TimeSpan.FromSeconds(10)));

        // The queue still works: a message sent now reaches the next receive.
        var next = Transport.ReceiveAsync(queue, 1, TimeSpan.FromMinutes(1), default).AsTask();
        var headers = new Dictionary<string, string> { [MessageHeaders.MessageId] = "after-cancel" };
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), new TransportMessage(headers, Encoding.UTF8.GetBytes("x")))], default);
        Assert.Equal("after-cancel", Assert.Single(await next.WaitAsync(TimeSpan.FromSeconds(10))).Message.MessageId);
    }

    [Fact]
    public async Task Waiting_receivers_are_handed_each_message_once_in_the_order_they_started_waiting()
    {
        var queue = await NewQueueAsync("handoff");
        var first = Transport.ReceiveAsync(queue, 10, TimeSpan.FromMinutes(1), default).AsTask();
        var second = Transport.ReceiveAsync(queue, 10, TimeSpan.FromMinutes(1), default).AsTask();

        await SendAsync(queue, "handoff-1");
        var toFirst = Assert.Single(await first.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(second.IsCompleted);
        await SendAsync(queue, "handoff-2");
        var toSecond = Assert.Single(await second.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(new[] { "handoff-1", "handoff-2" }, new[] { toFirst.Message.MessageId!, toSecond.Message.MessageId! });
        Assert.Equal(1, toFirst.ReceiveCount);
        await toFirst.CompleteAsync(default);
        await toSecond.CompleteAsync(default);
        var after = Transport.ReceiveAsync(queue, 10, TimeSpan.FromMinutes(1), default).AsTask();
        _time.Advance(new InMemoryTransportOptions().LongPollTime);
        Assert.Empty(await after.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_waiting_receiver_is_handed_a_lease_expired_message_when_the_lease_ends_within_its_poll()
    {
        var broker = new InMemoryBroker(_time);
        await using var transport = new InMemoryTransport(broker, new InMemoryTransportOptions { LongPollTime = TimeSpan.FromMinutes(1) });
        var queue = $"expiry-{Guid.NewGuid():N}";
        await transport.ProvisionAsync(new TransportTopology(queue, [], []), default);
        var headers = new Dictionary<string, string> { [MessageHeaders.MessageId] = "expiry-1" };
        await transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), new TransportMessage(headers, Encoding.UTF8.GetBytes("x")))], default);
        var held = Assert.Single(await transport.ReceiveAsync(queue, 1, TimeSpan.FromSeconds(30), default));
        await held.BeginAttemptAsync(default); // its handler started: the attempt counts

        var waiting = transport.ReceiveAsync(queue, 1, TimeSpan.FromSeconds(30), default).AsTask();
        _time.Advance(TimeSpan.FromSeconds(30) - TimeSpan.FromTicks(1));
        Assert.False(waiting.IsCompleted);
        _time.Advance(TimeSpan.FromTicks(1));

        var again = Assert.Single(await waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("expiry-1", again.Message.MessageId);
        Assert.Equal(2, again.ReceiveCount);
        await Assert.ThrowsAsync<LeaseLostException>(() => held.CompleteAsync(default));
    }

    [Fact]
    public async Task A_long_poll_is_not_cancelled_by_the_token_of_an_earlier_wait()
    {
        // A finished wait leaves the line for good: the token of the earlier wait must reach nothing after it.
        var queue = await NewQueueAsync("reuse");
        using var earlier = new CancellationTokenSource();
        var served = Transport.ReceiveAsync(queue, 1, TimeSpan.FromMinutes(1), earlier.Token);
        Assert.False(served.IsCompleted);
        await SendAsync(queue, "reuse-1");
        var first = Assert.Single(await served.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        await first.CompleteAsync(default);

        for (var round = 2; round <= 4; round++)
        {
            var waiting = Transport.ReceiveAsync(queue, 1, TimeSpan.FromMinutes(1), default);
            if (round == 2)
            {
                await earlier.CancelAsync(); // the earlier wait's token, while this wait is in line
            }

            Assert.False(waiting.IsCompleted);
            await SendAsync(queue, $"reuse-{round}");
            var next = Assert.Single(await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal($"reuse-{round}", next.Message.MessageId);
            await next.CompleteAsync(default);
        }

        // A poll that ends empty and one that is cancelled leave the next wait working as well.
        var ending = Transport.ReceiveAsync(queue, 1, TimeSpan.FromMinutes(1), default).AsTask();
        _time.Advance(new InMemoryTransportOptions().LongPollTime);
        Assert.Empty(await ending.WaitAsync(TimeSpan.FromSeconds(10)));
        using var cancel = new CancellationTokenSource();
        var cancelled = Transport.ReceiveAsync(queue, 1, TimeSpan.FromMinutes(1), cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(TimeSpan.FromSeconds(10)));
        var last = Transport.ReceiveAsync(queue, 1, TimeSpan.FromMinutes(1), default);
        await SendAsync(queue, "reuse-last");
        Assert.Equal("reuse-last", Assert.Single(await last.AsTask().WaitAsync(TimeSpan.FromSeconds(10))).Message.MessageId);
    }

    [Fact]
    public async Task A_settled_message_is_not_kept_alive_by_its_lease_until_the_lease_would_have_ended()
    {
        // A settled message must leave the queue at once, not stay (body and all) among the hidden ones for the
        // minutes its lease would have run, or every handled message outlives the young generation of the collector.
        var queue = await NewQueueAsync("settled");
        await SendAsync(queue, "long-job");
        var longJob = Assert.Single(await Transport.ReceiveAsync(queue, 1, TimeSpan.FromMinutes(1), default)); // in flight throughout
        var first = await SendReceiveAndCompleteAsync(queue, "settled-0");
        for (var i = 1; i < 200; i++)
        {
            await SendReceiveAndCompleteAsync(queue, $"settled-{i}");
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.False(first.IsAlive, "the first settled message is still reachable");
        await longJob.CompleteAsync(default);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private async Task<WeakReference> SendReceiveAndCompleteAsync(string queue, string id)
    {
        var message = new TransportMessage(new Dictionary<string, string> { [MessageHeaders.MessageId] = id }, new byte[1024]);
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), message)], default);
        var received = Assert.Single(await Transport.ReceiveAsync(queue, 1, TimeSpan.FromMinutes(5), default));
        Assert.Equal(id, received.Message.MessageId);
        await received.CompleteAsync(default);
        return new WeakReference(message);
    }

    private Task SendAsync(string queue, string id) => Transport.SendAsync(
        [new OutgoingMessage(Destination.Queue(queue), new TransportMessage(new Dictionary<string, string> { [MessageHeaders.MessageId] = id }, Encoding.UTF8.GetBytes("x")))],
        default);
}

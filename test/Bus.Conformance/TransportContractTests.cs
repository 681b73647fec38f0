using System.Text;
using Bus.Testing;
using Bus.Transports;
using Xunit;

namespace Bus.Conformance;

/// <summary>
/// The contract every <see cref="ITransport"/> honours, proven against the transport itself (no bus on top).
/// A transport's test project subclasses this and supplies the transport. Transports on a
/// <see cref="ManualTimeProvider"/> have time advanced for them; real brokers are paced by their own long polls.
/// </summary>
public abstract class TransportContractTests : IAsyncLifetime
{
    private ITransport? _transport;

    /// <summary>The transport under test.</summary>
    protected ITransport Transport => _transport ?? throw new InvalidOperationException("Not initialised.");

    /// <summary>The clock the transport runs on. A <see cref="ManualTimeProvider"/> is advanced by the suite.</summary>
    protected abstract TimeProvider Time { get; }

    /// <summary>A lease short enough to expire within a test (real brokers: a few seconds).</summary>
    protected virtual TimeSpan ShortLease => TimeSpan.FromSeconds(2);

    /// <summary>The longest a real broker may take to make a due message visible again.</summary>
    protected virtual TimeSpan Patience => TimeSpan.FromSeconds(15);

    /// <summary>Whether the transport enforces a message size limit the suite can exceed.</summary>
    protected virtual bool EnforcesMessageSize => Transport.Capabilities.MaxMessageSize is not null;

    /// <summary>Creates the transport; called once per test.</summary>
    protected abstract Task<ITransport> CreateTransportAsync();

    /// <summary>A queue name unique to this test.</summary>
    protected virtual string NewName(string hint) => $"{hint}-{Guid.NewGuid():N}"[..Math.Min(hint.Length + 13, 60)];

    /// <inheritdoc />
    public virtual async Task InitializeAsync() => _transport = await CreateTransportAsync();

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        if (_transport is not null)
        {
            await _transport.DisposeAsync();
        }
    }

    private ManualTimeProvider? ManualTime => Time as ManualTimeProvider;

    [Fact]
    public async Task Send_then_receive_round_trips_body_and_headers()
    {
        var queue = await NewQueueAsync("roundtrip");
        var sent = Message("hello", ("custom-header", "value with spaces åäö"), (MessageHeaders.CorrelationId, "corr-1"));

        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), sent)], default);
        var received = await ReceiveWithinAsync(queue, ShortLease, Patience);

        Assert.NotNull(received);
        Assert.Equal("hello", Encoding.UTF8.GetString(received.Message.Body.Span));
        Assert.Equal(sent.MessageId, received.Message.MessageId);
        Assert.Equal("value with spaces åäö", received.Message.Headers["custom-header"]);
        Assert.Equal("corr-1", received.Message.Headers[MessageHeaders.CorrelationId]);
        Assert.Equal(1, received.ReceiveCount);
        Assert.Equal(queue, received.Queue);
        await received.CompleteAsync(default);
    }

    [Fact]
    public async Task Foreign_payload_without_headers_arrives_untouched_with_a_message_id()
    {
        var queue = await NewQueueAsync("foreign");
        const string body = "{\"source\":\"aws.ecs\",\"detail-type\":\"ECS Task State Change\",\"detail\":{}}";

        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), new TransportMessage(null, Encoding.UTF8.GetBytes(body)))], default);
        var received = await ReceiveWithinAsync(queue, ShortLease, Patience);

        Assert.NotNull(received);
        Assert.Equal(body, Encoding.UTF8.GetString(received.Message.Body.Span));
        Assert.False(string.IsNullOrEmpty(received.Message.MessageId), "the transport gives every received message an id");
        Assert.DoesNotContain(received.Message.Headers.Keys, k => k.StartsWith("bus-", StringComparison.Ordinal) && k != MessageHeaders.MessageId);
        await received.CompleteAsync(default);
    }

    [Fact]
    public async Task Completed_message_is_not_delivered_again()
    {
        var queue = await NewQueueAsync("complete");
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), Message("once"))], default);

        var received = await ReceiveWithinAsync(queue, ShortLease, Patience);
        Assert.NotNull(received);
        await received.CompleteAsync(default);

        Assert.Null(await ReceiveWithinAsync(queue, ShortLease, ShortLease * 2));
    }

    [Fact]
    public async Task Expired_lease_redelivers_with_a_higher_receive_count_and_the_old_lease_is_lost()
    {
        var queue = await NewQueueAsync("expiry");
        var sent = Message("job");
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), sent)], default);

        var first = await ReceiveWithinAsync(queue, ShortLease, Patience);
        Assert.NotNull(first);
        await first.BeginAttemptAsync(default); // its handlers started (a no-op where the broker counts at receive)
        var second = await ReceiveWithinAsync(queue, ShortLease * 10, Patience + ShortLease);

        Assert.NotNull(second);
        Assert.Equal(sent.MessageId, second.Message.MessageId);
        Assert.Equal(2, second.ReceiveCount);
        await Assert.ThrowsAsync<LeaseLostException>(() => first.CompleteAsync(default));
        await second.CompleteAsync(default);
    }

    [SkippableFact]
    public async Task Expired_lease_of_a_delivery_never_started_costs_no_attempt_where_attempts_count_at_start()
    {
        Skip.IfNot(Transport.Capabilities.CountsAttemptsAtStart,
            $"The {Transport.Capabilities.Name} transport counts every receive as an attempt (the bus does not prefetch there).");
        var queue = await NewQueueAsync("unstarted");
        var sent = Message("prefetched");
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), sent)], default);

        // Received (prefetched) by a worker that died, or whose lease ran out, before the handlers started.
        var first = await ReceiveWithinAsync(queue, ShortLease, Patience);
        Assert.NotNull(first);
        Assert.Equal(1, first.ReceiveCount);
        var second = await ReceiveWithinAsync(queue, ShortLease, Patience + ShortLease);

        Assert.NotNull(second);
        Assert.Equal(sent.MessageId, second.Message.MessageId);
        Assert.Equal(1, second.ReceiveCount);
        await Assert.ThrowsAsync<LeaseLostException>(() => first.BeginAttemptAsync(default).AsTask());

        // This one starts, then its worker dies: the started attempt counts.
        await second.BeginAttemptAsync(default);
        var third = await ReceiveWithinAsync(queue, ShortLease * 10, Patience + ShortLease);
        Assert.NotNull(third);
        Assert.Equal(2, third.ReceiveCount);
        await third.CompleteAsync(default);
    }

    [Fact]
    public async Task Release_after_the_attempt_began_does_not_count_it()
    {
        // A checkpoint or a shutdown releases a message whose handler was running.
        var queue = await NewQueueAsync("begunrelease");
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), Message("checkpointed"))], default);
        var first = await ReceiveWithinAsync(queue, ShortLease * 10, Patience);
        Assert.NotNull(first);
        await first.BeginAttemptAsync(default);

        await first.ReleaseAsync(TimeSpan.Zero, default);
        var second = await ReceiveWithinAsync(queue, ShortLease * 10, Patience);

        Assert.NotNull(second);
        Assert.Equal(1, second.ReceiveCount);
        await second.BeginAttemptAsync(default);
        await second.AbandonAsync(TimeSpan.Zero, default);
        var third = await ReceiveWithinAsync(queue, ShortLease * 10, Patience);
        Assert.NotNull(third);
        Assert.Equal(2, third.ReceiveCount);
        await third.CompleteAsync(default);
    }

    [Fact]
    public async Task Renewed_lease_prevents_redelivery()
    {
        var queue = await NewQueueAsync("renew");
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), Message("long job"))], default);
        var received = await ReceiveWithinAsync(queue, ShortLease, Patience);
        Assert.NotNull(received);

        var before = received.LeaseExpiresAt;
        var expiry = await received.RenewLeaseAsync(ShortLease * 10, default);

        Assert.True(expiry > before, "the renewal moves the lease expiry later");
        Assert.Null(await ReceiveWithinAsync(queue, ShortLease, ShortLease * 2));
        await received.CompleteAsync(default);
    }

    [Fact]
    public async Task Abandon_with_delay_redelivers_after_the_delay_and_counts_an_attempt()
    {
        var queue = await NewQueueAsync("abandon");
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), Message("retry me"))], default);
        var first = await ReceiveWithinAsync(queue, ShortLease * 10, Patience);
        Assert.NotNull(first);

        await first.AbandonAsync(ShortLease, default);
        var second = await ReceiveWithinAsync(queue, ShortLease * 10, Patience);

        Assert.NotNull(second);
        Assert.Equal(2, second.ReceiveCount);
        await second.CompleteAsync(default);
    }

    [Fact]
    public async Task Release_gives_the_message_back_without_counting_an_attempt()
    {
        var queue = await NewQueueAsync("release");
        var sent = Message("checkpointed");
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), sent)], default);
        var first = await ReceiveWithinAsync(queue, ShortLease * 10, Patience);
        Assert.NotNull(first);

        await first.ReleaseAsync(TimeSpan.Zero, default);
        var second = await ReceiveWithinAsync(queue, ShortLease * 10, Patience);

        Assert.NotNull(second);
        Assert.Equal(sent.MessageId, second.Message.MessageId);
        Assert.Equal(1, second.ReceiveCount);
        await second.CompleteAsync(default);
    }

    [Fact]
    public async Task Release_with_a_delay_hides_the_message_until_then_without_counting_an_attempt()
    {
        // What a deferral to a time window's opening or a checkpoint's resume time asks of every transport.
        var queue = await NewQueueAsync("defer");
        var sent = Message("deferred", ("kind", "window"));
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), sent)], default);
        var first = await ReceiveWithinAsync(queue, ShortLease * 10, Patience);
        Assert.NotNull(first);
        var delay = ShortLease * 2;

        await first.ReleaseAsync(delay, default);

        Assert.Null(await ReceiveWithinAsync(queue, ShortLease * 10, delay / 2));
        var again = await ReceiveWithinAsync(queue, ShortLease * 10, Patience + delay);
        Assert.NotNull(again);
        Assert.Equal(sent.MessageId, again.Message.MessageId);
        Assert.Equal("window", again.Message.Headers["kind"]);
        Assert.Equal(1, again.ReceiveCount);
        await again.CompleteAsync(default);
    }

    [Fact]
    public async Task Delayed_send_is_not_visible_before_it_is_due()
    {
        var queue = await NewQueueAsync("delay");
        var delay = ShortLease * 2;
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), Message("later"), Time.GetUtcNow() + delay)], default);

        Assert.Null(await ReceiveWithinAsync(queue, ShortLease, delay / 2));
        var received = await ReceiveWithinAsync(queue, ShortLease, Patience + delay);

        Assert.NotNull(received);
        await received.CompleteAsync(default);
    }

    [Fact]
    public async Task Publish_fans_out_to_every_subscribed_queue_and_only_those()
    {
        var topic = NewName("evt");
        var a = NewName("sub-a");
        var b = NewName("sub-b");
        var other = NewName("other");
        await Transport.ProvisionAsync(new TransportTopology(a, [topic], [topic]), default);
        await Transport.ProvisionAsync(new TransportTopology(b, [topic], [topic]), default);
        await Transport.ProvisionAsync(new TransportTopology(other, [], []), default);
        var sent = Message("event", ("kind", "fan-out"));

        await Transport.SendAsync([new OutgoingMessage(Destination.Topic(topic), sent)], default);

        foreach (var queue in new[] { a, b })
        {
            var received = await ReceiveWithinAsync(queue, ShortLease, Patience);
            Assert.NotNull(received);
            Assert.Equal(sent.MessageId, received.Message.MessageId);
            Assert.Equal("fan-out", received.Message.Headers["kind"]);
            await received.CompleteAsync(default);
        }

        Assert.Null(await ReceiveWithinAsync(other, ShortLease, ShortLease));
    }

    [Fact]
    public async Task Dead_letter_keeps_body_headers_and_failure_details()
    {
        var queue = await NewQueueAsync("dlq");
        var sent = Message("poison", ("tenant", "t-1"));
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), sent)], default);
        var received = await ReceiveWithinAsync(queue, ShortLease * 10, Patience);
        Assert.NotNull(received);
        var failedAt = Time.GetUtcNow();

        await received.DeadLetterAsync(
            FailureDetails.From("Attempts exhausted (3 of 3)", new InvalidOperationException("boom"), 3, queue, failedAt), default);

        var dead = Assert.Single(await Transport.DeadLetters.PeekAsync(queue, 10, default));
        Assert.Equal(sent.MessageId, dead.Message.MessageId);
        Assert.Equal("poison", Encoding.UTF8.GetString(dead.Message.Body.Span));
        Assert.Equal("t-1", dead.Message.Headers["tenant"]);
        Assert.DoesNotContain(dead.Message.Headers.Keys, MessageHeaders.IsFailureHeader);
        Assert.Equal("Attempts exhausted (3 of 3)", dead.Failure.Reason);
        Assert.Equal(typeof(InvalidOperationException).FullName, dead.Failure.ExceptionType);
        Assert.Equal("boom", dead.Failure.ExceptionMessage);
        Assert.Contains("boom", dead.Failure.StackTrace);
        Assert.Equal(3, dead.Failure.Attempts);
        Assert.Equal(queue, dead.Failure.SourceQueue);
        Assert.Equal(failedAt.ToUnixTimeSeconds(), dead.Failure.FailedAt.ToUnixTimeSeconds());
        Assert.Null(await ReceiveWithinAsync(queue, ShortLease, ShortLease));
    }

    [Fact]
    public async Task Redrive_of_chosen_ids_returns_them_with_their_identity_and_leaves_the_rest()
    {
        var queue = await NewQueueAsync("redrive");
        var one = Message("one", ("h", "1"));
        var two = Message("two", ("h", "2"));
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), one), new OutgoingMessage(Destination.Queue(queue), two)], default);
        for (var i = 0; i < 2; i++)
        {
            var received = await ReceiveWithinAsync(queue, ShortLease * 10, Patience);
            Assert.NotNull(received);
            await received.DeadLetterAsync(FailureDetails.From("no handler", null, 1, queue, Time.GetUtcNow()), default);
        }

        var moved = await Transport.DeadLetters.RedriveAsync(queue, [one.MessageId!], default);

        Assert.Equal(1, moved);
        var back = await ReceiveWithinAsync(queue, ShortLease, Patience);
        Assert.NotNull(back);
        Assert.Equal(one.MessageId, back.Message.MessageId);
        Assert.Equal("one", Encoding.UTF8.GetString(back.Message.Body.Span));
        Assert.Equal("1", back.Message.Headers["h"]);
        Assert.DoesNotContain(back.Message.Headers.Keys, MessageHeaders.IsFailureHeader);
        Assert.Equal(1, back.ReceiveCount);
        await back.CompleteAsync(default);
        var remaining = Assert.Single(await Transport.DeadLetters.PeekAsync(queue, 10, default));
        Assert.Equal(two.MessageId, remaining.Message.MessageId);
    }

    [Fact]
    public async Task Redrive_all_and_purge()
    {
        var queue = await NewQueueAsync("purge");
        var messages = Enumerable.Range(0, 3).Select(i => Message($"m{i}")).ToList();
        await Transport.SendAsync(messages.Select(m => new OutgoingMessage(Destination.Queue(queue), m)).ToList(), default);
        for (var i = 0; i < 3; i++)
        {
            var received = await ReceiveWithinAsync(queue, ShortLease * 10, Patience);
            Assert.NotNull(received);
            await received.DeadLetterAsync(FailureDetails.From("failed", null, 1, queue, Time.GetUtcNow()), default);
        }

        Assert.Equal(1, await Transport.DeadLetters.PurgeAsync(queue, [messages[0].MessageId!], default));
        Assert.Equal(2, await Transport.DeadLetters.RedriveAsync(queue, null, default));
        Assert.Empty(await Transport.DeadLetters.PeekAsync(queue, 10, default));
        var ids = new HashSet<string>();
        for (var i = 0; i < 2; i++)
        {
            var received = await ReceiveWithinAsync(queue, ShortLease * 10, Patience);
            Assert.NotNull(received);
            ids.Add(received.Message.MessageId!);
            await received.CompleteAsync(default);
        }

        Assert.Equal(new[] { messages[1].MessageId!, messages[2].MessageId! }.Order(), ids.Order());
    }

    [Fact]
    public async Task Renewing_a_lost_lease_throws_lease_lost()
    {
        var queue = await NewQueueAsync("lost");
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), Message("x"))], default);
        var first = await ReceiveWithinAsync(queue, ShortLease, Patience);
        Assert.NotNull(first);
        var second = await ReceiveWithinAsync(queue, ShortLease * 10, Patience + ShortLease);
        Assert.NotNull(second);

        await Assert.ThrowsAsync<LeaseLostException>(() => first.RenewLeaseAsync(ShortLease, default));
        await second.CompleteAsync(default);
    }

    [SkippableFact]
    public async Task Oversized_message_fails_at_send_naming_the_limit()
    {
        Skip.IfNot(EnforcesMessageSize, $"The {Transport.Capabilities.Name} transport enforces no message size limit the suite can exceed.");

        var queue = await NewQueueAsync("big");
        var limit = Transport.Capabilities.MaxMessageSize!.Value;
        var body = new byte[limit + 1];

        var error = await Assert.ThrowsAsync<MessageTooLargeException>(() =>
            Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), new TransportMessage(Headers(), body))], default));

        Assert.Equal(limit, error.Limit);
        Assert.Contains(limit.ToString("N0", System.Globalization.CultureInfo.CurrentCulture), error.Message);
    }

    [Fact]
    public async Task A_message_near_the_size_limit_is_dead_lettered_whole_with_its_reason()
    {
        var queue = await NewQueueAsync("nearlimit");
        var limit = Transport.Capabilities.MaxMessageSize ?? 1024 * 1024;
        var headers = Headers((MessageHeaders.MessageType, "test.near-limit"));
        var overhead = MessageSizeLimit.SizeOf(new TransportMessage(headers, Array.Empty<byte>()));
        var body = Encoding.UTF8.GetBytes(new string('x', (int)(limit - overhead - 100))); // 100 bytes under the limit
        var sent = new TransportMessage(headers, body);
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), sent)], default);
        var received = await ReceiveWithinAsync(queue, ShortLease * 10, Patience);
        Assert.NotNull(received);

        // A failure whose details alone are larger than the room left: they give way, the message and its reason do not.
        var failure = new FailureDetails(
            "Attempts exhausted (5 of 5)", typeof(InvalidOperationException).FullName, new string('m', 4_000), new string('s', 8_000), 5, queue, Time.GetUtcNow());
        await received.DeadLetterAsync(failure, default);

        var dead = Assert.Single(await Transport.DeadLetters.PeekAsync(queue, 10, default));
        Assert.Equal(sent.MessageId, dead.Message.MessageId);
        Assert.Equal(body, dead.Message.Body.ToArray());
        Assert.StartsWith("Attempts exhausted", dead.Failure.Reason);
        Assert.Equal(1, await Transport.DeadLetters.PurgeAsync(queue, null, default));
    }

    /// <summary>Provisions a fresh input queue.</summary>
    protected async Task<string> NewQueueAsync(string hint)
    {
        var queue = NewName(hint);
        await Transport.ProvisionAsync(new TransportTopology(queue, [], []), default);
        return queue;
    }

    /// <summary>A message with a fresh id, a UTF-8 body and the given headers.</summary>
    protected static TransportMessage Message(string body, params (string Name, string Value)[] headers) =>
        new(Headers(headers), Encoding.UTF8.GetBytes(body));

    private static Dictionary<string, string> Headers(params (string Name, string Value)[] headers)
    {
        var result = new Dictionary<string, string> { [MessageHeaders.MessageId] = Guid.NewGuid().ToString() };
        foreach (var (name, value) in headers)
        {
            result[name] = value;
        }

        return result;
    }

    /// <summary>Receives one message, letting up to <paramref name="within"/> pass; null when none came.</summary>
    protected async Task<IReceivedMessage?> ReceiveWithinAsync(string queue, TimeSpan lease, TimeSpan within)
    {
        var deadline = Time.GetUtcNow() + within;
        do
        {
            var received = await AwaitLettingTimePassAsync(Transport.ReceiveAsync(queue, 1, lease, default).AsTask(), deadline);
            if (received is { Count: > 0 })
            {
                return received[0];
            }
        }
        while (Time.GetUtcNow() < deadline);

        return null;
    }

    /// <summary>Awaits <paramref name="task"/>; on a manual clock, advances time in small steps (never past
    /// <paramref name="deadline"/>) while it waits. Returns default when the deadline passed first.</summary>
    protected async Task<T?> AwaitLettingTimePassAsync<T>(Task<T> task, DateTimeOffset deadline)
    {
        if (ManualTime is not { } clock)
        {
            return await task.WaitAsync(Patience * 4);
        }

        var step = TimeSpan.FromMilliseconds(250);
        while (!task.IsCompleted)
        {
            try
            {
                return await task.WaitAsync(TimeSpan.FromMilliseconds(20));
            }
            catch (TimeoutException)
            {
                var now = clock.GetUtcNow();
                if (now >= deadline)
                {
                    // Let the pending receive end on its own long poll, without moving far past the deadline.
                    clock.Advance(step);
                    continue;
                }

                clock.Advance(deadline - now < step ? deadline - now : step);
            }
        }

        return await task;
    }
}

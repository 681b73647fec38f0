using System.Text;
using Bus.Transports;

namespace Bus.AzureServiceBus.Tests.Live;

/// <summary>The REST contract the fake models, checked against a real namespace (skipped without one). Waiting is the
/// broker's own long poll; nothing sleeps.</summary>
public sealed class LiveServiceBusTests : IAsyncLifetime
{
    /// <summary>How far this machine's clock may be ahead of the broker's, for checks of when scheduled messages arrive.</summary>
    private static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(3);

    private readonly string _queue = $"bus-live-{Guid.NewGuid():N}"[..22];
    private ServiceBusTransport? _transport;

    private ServiceBusTransport Transport => _transport ?? throw new InvalidOperationException("Not initialised.");

    public Task InitializeAsync()
    {
        if (LiveServiceBusFactAttribute.ConnectionString is { Length: > 0 } connectionString)
        {
            _transport = new ServiceBusTransport(new ServiceBusTransportOptions
            {
                ConnectionString = connectionString,
                LockDuration = TimeSpan.FromSeconds(10),
                MaxDeliveryCount = 2,
                ReceiveTimeout = TimeSpan.FromSeconds(5),
            });
        }

        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_transport is not null)
        {
            await _transport.DisposeAsync();
        }
    }

    [LiveServiceBusFact]
    public async Task Provision_send_receive_renew_and_complete()
    {
        await Transport.ProvisionAsync(new TransportTopology(_queue, [], []), default);
        await Transport.ProvisionAsync(new TransportTopology(_queue, [], []), default); // 409 is fine
        var sent = Message("hello", ("custom-header", "value with spaces åäö"), (MessageHeaders.CorrelationId, "corr-1"));

        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(_queue), sent)], default);
        var received = await ReceiveAsync();

        Assert.Equal(sent.MessageId, received.Message.MessageId);
        Assert.Equal("value with spaces åäö", received.Message.Headers["custom-header"]);
        Assert.Equal("corr-1", received.Message.Headers[MessageHeaders.CorrelationId]);
        Assert.Equal(1, received.ReceiveCount);
        var renewed = await received.RenewLeaseAsync(TimeSpan.FromSeconds(10), default);
        Assert.True(renewed >= received.LeaseExpiresAt.AddSeconds(-1));
        await received.CompleteAsync(default);
        Assert.Empty(await Transport.ReceiveAsync(_queue, 1, TimeSpan.FromSeconds(10), default));
    }

    [LiveServiceBusFact]
    public async Task Batch_send_and_dead_letter_then_redrive()
    {
        await Transport.ProvisionAsync(new TransportTopology(_queue, [], []), default);
        var one = Message("one", ("h", "1"));
        var two = Message("two", ("h", "2"));
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(_queue), one), new OutgoingMessage(Destination.Queue(_queue), two)], default);
        for (var i = 0; i < 2; i++)
        {
            var received = await ReceiveAsync();
            await received.DeadLetterAsync(FailureDetails.From("no handler", null, 1, _queue, DateTimeOffset.UtcNow), default);
        }

        var dead = await Transport.DeadLetters.PeekAsync(_queue, 10, default);
        Assert.Equal(2, dead.Count);
        Assert.All(dead, d => Assert.Equal("no handler", d.Failure.Reason));

        Assert.Equal(1, await Transport.DeadLetters.RedriveAsync(_queue, [one.MessageId!], default));
        var back = await ReceiveAsync();
        Assert.Equal(one.MessageId, back.Message.MessageId);
        Assert.Equal("1", back.Message.Headers["h"]);
        await back.CompleteAsync(default);
        Assert.Equal(1, await Transport.DeadLetters.PurgeAsync(_queue, null, default));
    }

    [LiveServiceBusFact]
    public async Task Publish_reaches_a_subscribed_queue_through_forwarding()
    {
        var topic = _queue + "-evt";
        await Transport.ProvisionAsync(new TransportTopology(_queue, [topic], [topic]), default);
        var sent = Message("event");

        await Transport.SendAsync([new OutgoingMessage(Destination.Topic(topic), sent)], default);
        var received = await ReceiveAsync();

        Assert.Equal(sent.MessageId, received.Message.MessageId);
        await received.CompleteAsync(default);
    }

    [LiveServiceBusFact]
    public async Task Max_delivery_count_moves_the_message_to_the_native_dead_letter_queue()
    {
        await Transport.ProvisionAsync(new TransportTopology(_queue, [], []), default);
        var sent = Message("crashes every handler", ("tenant", "t-1"));
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(_queue), sent)], default);

        // MaxDeliveryCount is 2: two plain unlocks (as after two crashed workers) use up the deliveries.
        for (var delivery = 1; delivery <= 2; delivery++)
        {
            var received = await ReceiveAsync();
            Assert.Equal(delivery, received.ReceiveCount);
            await received.AbandonAsync(TimeSpan.Zero, default);
        }

        Assert.Empty(await Transport.ReceiveAsync(_queue, 1, TimeSpan.FromSeconds(10), default)); // a whole long poll
        var dead = Assert.Single(await Transport.DeadLetters.PeekAsync(_queue, 10, default));
        Assert.Equal("MaxDeliveryCountExceeded", dead.Failure.Reason);
        Assert.Equal(sent.MessageId, dead.Message.MessageId);
        Assert.Equal("t-1", dead.Message.Headers["tenant"]);

        Assert.Equal(1, await Transport.DeadLetters.RedriveAsync(_queue, [sent.MessageId!], default));
        var back = await ReceiveAsync();
        Assert.Equal(sent.MessageId, back.Message.MessageId);
        Assert.Equal(1, back.ReceiveCount);
        await back.CompleteAsync(default);
        Assert.Empty(await Transport.DeadLetters.PeekAsync(_queue, 10, default));
    }

    [LiveServiceBusFact]
    public async Task Renewing_or_completing_after_the_lock_expired_is_a_lost_lock()
    {
        await Transport.ProvisionAsync(new TransportTopology(_queue, [], []), default);
        var sent = Message("slow");
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(_queue), sent)], default);
        var first = await ReceiveAsync();

        // The next receive long-polls until the 10 s lock runs out and the broker hands the message out again.
        var second = await ReceiveAsync();

        Assert.Equal(sent.MessageId, second.Message.MessageId);
        Assert.Equal(2, second.ReceiveCount);
        await Assert.ThrowsAsync<LeaseLostException>(() => first.RenewLeaseAsync(TimeSpan.FromSeconds(10), default)); // 404
        await Assert.ThrowsAsync<LeaseLostException>(() => first.CompleteAsync(default)); // 404
        await second.CompleteAsync(default);
        Assert.Empty(await Transport.ReceiveAsync(_queue, 1, TimeSpan.FromSeconds(10), default));
    }

    [LiveServiceBusFact]
    public async Task Renewing_a_lock_made_stale_by_an_unlock_is_a_lost_lock()
    {
        await Transport.ProvisionAsync(new TransportTopology(_queue, [], []), default);
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(_queue), Message("released"))], default);
        var first = await ReceiveAsync();
        await first.AbandonAsync(TimeSpan.Zero, default);
        var second = await ReceiveAsync();

        await Assert.ThrowsAsync<LeaseLostException>(() => first.RenewLeaseAsync(TimeSpan.FromSeconds(10), default)); // 404

        Assert.Equal(first.Message.MessageId, second.Message.MessageId);
        await second.RenewLeaseAsync(TimeSpan.FromSeconds(10), default); // the current lock is untouched
        await second.CompleteAsync(default);
    }

    [LiveServiceBusFact]
    public async Task Scheduled_message_arrives_only_when_it_is_due()
    {
        await Transport.ProvisionAsync(new TransportTopology(_queue, [], []), default);
        var sent = Message("later");
        var due = DateTimeOffset.UtcNow.AddSeconds(20);

        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(_queue), sent, due)], default);

        Assert.Empty(await Transport.ReceiveAsync(_queue, 1, TimeSpan.FromSeconds(10), default)); // a 5 s long poll, well before
        var received = await ReceiveAsync();
        Assert.Equal(sent.MessageId, received.Message.MessageId);
        Assert.True(DateTimeOffset.UtcNow >= due - ClockSkew, $"arrived at {DateTimeOffset.UtcNow:O}, due {due:O}");
        await received.CompleteAsync(default);
    }

    [LiveServiceBusFact]
    public async Task Abandon_with_delay_comes_back_when_due_counting_the_attempt()
    {
        await Transport.ProvisionAsync(new TransportTopology(_queue, [], []), default);
        var sent = Message("retry me");
        await Transport.SendAsync([new OutgoingMessage(Destination.Queue(_queue), sent)], default);
        var first = await ReceiveAsync();
        var due = DateTimeOffset.UtcNow.AddSeconds(15);

        await first.AbandonAsync(TimeSpan.FromSeconds(15), default); // completes it and schedules a copy

        Assert.Empty(await Transport.ReceiveAsync(_queue, 1, TimeSpan.FromSeconds(10), default));
        var retry = await ReceiveAsync();
        Assert.Equal(sent.MessageId, retry.Message.MessageId);
        Assert.Equal(2, retry.ReceiveCount);
        Assert.True(DateTimeOffset.UtcNow >= due - ClockSkew, $"arrived at {DateTimeOffset.UtcNow:O}, due {due:O}");
        await retry.CompleteAsync(default);
    }

    private async Task<IReceivedMessage> ReceiveAsync()
    {
        for (var attempt = 0; attempt < 6; attempt++)
        {
            var received = await Transport.ReceiveAsync(_queue, 1, TimeSpan.FromSeconds(10), default);
            if (received.Count > 0)
            {
                return received[0];
            }
        }

        throw new TimeoutException($"Nothing arrived in '{_queue}'.");
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
}

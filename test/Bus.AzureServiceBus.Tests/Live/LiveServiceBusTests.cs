using System.Text;
using Bus.Transports;

namespace Bus.AzureServiceBus.Tests.Live;

/// <summary>The REST contract the fake models, checked against a real namespace (skipped without one). Waiting is the
/// broker's own long poll; nothing sleeps.</summary>
public sealed class LiveServiceBusTests : IAsyncLifetime
{
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

using System.Text;
using Bus.Transports;

namespace Bus.AmazonSqs.Tests;

/// <summary>Round trips against real SQS/SNS (default credential chain, region from the environment).</summary>
public sealed class LiveAwsTests
{
    [LiveAwsFact]
    public async Task Provision_send_receive_and_complete_on_real_sqs()
    {
        await using var transport = new SqsTransport(new SqsTransportOptions { QueueNamePrefix = "bus-live-", WaitTime = TimeSpan.FromSeconds(5) });
        var queue = Fauxqs.UniqueName("live");
        await transport.ProvisionAsync(new TransportTopology(queue, [], []), default);
        var sent = new TransportMessage(new Dictionary<string, string> { [MessageHeaders.MessageId] = Guid.NewGuid().ToString() }, Encoding.UTF8.GetBytes("live"));

        await transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), sent)], default);
        IReceivedMessage? received = null;
        for (var i = 0; i < 6 && received is null; i++)
        {
            received = (await transport.ReceiveAsync(queue, 1, TimeSpan.FromSeconds(30), default)).FirstOrDefault();
        }

        Assert.NotNull(received);
        Assert.Equal(sent.MessageId, received.Message.MessageId);
        await received.RenewLeaseAsync(TimeSpan.FromSeconds(60), default);
        await received.CompleteAsync(default);
    }

    [LiveAwsFact]
    public async Task A_message_near_the_queue_limit_is_dead_lettered_with_its_reason_on_real_sqs()
    {
        await using var transport = new SqsTransport(new SqsTransportOptions { QueueNamePrefix = "bus-live-", WaitTime = TimeSpan.FromSeconds(5) });
        var queue = Fauxqs.UniqueName("livedlq");
        await transport.ProvisionAsync(new TransportTopology(queue, [], []), default);
        var limit = transport.Capabilities.MaxMessageSize!.Value;
        var headers = new Dictionary<string, string> { [MessageHeaders.MessageId] = Guid.NewGuid().ToString() };
        var body = Encoding.UTF8.GetBytes(new string('x', (int)(limit - MessageSizeLimit.SizeOf(new TransportMessage(headers, Array.Empty<byte>())) - 100)));
        var sent = new TransportMessage(headers, body);
        await transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), sent)], default);
        IReceivedMessage? received = null;
        for (var i = 0; i < 6 && received is null; i++)
        {
            received = (await transport.ReceiveAsync(queue, 1, TimeSpan.FromSeconds(30), default)).FirstOrDefault();
        }

        Assert.NotNull(received);
        await received.DeadLetterAsync(new FailureDetails("Attempts exhausted (5 of 5)", "System.Exception", new string('m', 2_000), new string('s', 8_000), 5, queue, DateTimeOffset.UtcNow), default);

        var dead = Assert.Single(await transport.DeadLetters.PeekAsync(queue, 10, default));
        Assert.Equal(sent.MessageId, dead.Message.MessageId);
        Assert.StartsWith("Attempts exhausted", dead.Failure.Reason);
        Assert.Equal(1, await transport.DeadLetters.PurgeAsync(queue, null, default));
    }
}

using Amazon.SQS.Model;
using System.Net;
using System.Text;
using Bus.AmazonSqs.Sqs;
using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.AmazonSqs.Tests;

/// <summary>
/// Redrive with StartMessageMoveTask (<see cref="SqsTransportOptions.UseMessageMoveTask"/>): the fallback to the mover
/// where the service lacks the operation (fauxqs does), the native call (scripted, as fauxqs cannot), and messages
/// moved back natively, which arrive with their failure headers and are received like mover-redriven ones.
/// </summary>
public sealed class MessageMoveTaskTests
{
    private const string QueueUrl = "http://sqs.us-east-1.localhost:4566/000000000000/bt-q";
    private const string DeadLetterUrl = "http://sqs.us-east-1.localhost:4566/000000000000/bt-q-dlq";
    private const string QueueArn = "arn:aws:sqs:us-east-1:000000000000:bt-q";
    private const string DeadLetterArn = "arn:aws:sqs:us-east-1:000000000000:bt-q-dlq";

    private readonly RawSqs _raw = Fauxqs.RawSqs();

    [Fact]
    public async Task Where_the_service_lacks_StartMessageMoveTask_redrive_falls_back_to_the_mover_and_logs_it()
    {
        using var counter = new CountingHandler();
        using var logs = new CapturingLoggerFactory();
        await using var transport = new SqsTransport(Fauxqs.Options(o =>
        {
            o.UseMessageMoveTask = true;
            o.HttpClientFactory = new HandlerClientFactory(counter);
        }), logs);
        var queue = Fauxqs.UniqueName("movefb");
        await transport.ProvisionAsync(new TransportTopology(queue, [], []), default);
        var sent = Fauxqs.Message("poison", ("tenant", "t-3"));
        await transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), sent)], default);
        var received = await Fauxqs.ReceiveOneAsync(transport, queue);
        await received.DeadLetterAsync(FailureDetails.From("Attempts exhausted (1 of 1)", new InvalidOperationException("boom"), 1, queue, DateTimeOffset.UtcNow), default);

        var moved = await transport.DeadLetters.RedriveAsync(queue, null, default);

        Assert.Equal(1, moved);
        Assert.Equal(1, counter.Count("StartMessageMoveTask")); // tried once (an unknown action is not retried)
        var warning = Assert.Single(logs.Entries, e => e.Level == LogLevel.Warning);
        Assert.Contains("StartMessageMoveTask", warning.Message);
        Assert.Contains("InvalidAction", warning.Message); // what fauxqs answers
        Assert.Contains("mover", warning.Message);
        var back = await Fauxqs.ReceiveOneAsync(transport, queue);
        Assert.Equal(sent.MessageId, back.Message.MessageId);
        Assert.Equal(1, back.ReceiveCount);
        Assert.Equal(sent.Headers.OrderBy(h => h.Key), back.Message.Headers.OrderBy(h => h.Key));
        await back.CompleteAsync(default);
        Assert.Empty(await transport.DeadLetters.PeekAsync(queue, 10, default));
    }

    [Fact]
    public async Task A_dead_letter_moved_back_natively_is_received_like_one_the_mover_redrove()
    {
        await using var transport = new SqsTransport(Fauxqs.Options());
        var queue = Fauxqs.UniqueName("native");
        await transport.ProvisionAsync(new TransportTopology(queue, [], []), default);
        var sent = Fauxqs.Message("poison", ("tenant", "t-4"));
        await transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), sent)], default);
        await (await Fauxqs.ReceiveOneAsync(transport, queue)).AbandonAsync(TimeSpan.Zero, default);
        await (await Fauxqs.ReceiveOneAsync(transport, queue)).ReleaseAsync(TimeSpan.Zero, default); // the copy carries 1 prior attempt
        var last = await Fauxqs.ReceiveOneAsync(transport, queue);
        Assert.Equal(2, last.ReceiveCount);
        await last.DeadLetterAsync(FailureDetails.From("Attempts exhausted (2 of 2)", new TimeoutException("slow"), 2, queue, DateTimeOffset.UtcNow), default);

        // What StartMessageMoveTask does: the dead letter's body and attributes, as they are, sent to the source queue.
        var dlqUrl = (await _raw.GetQueueUrlAsync($"bt-{queue}-dlq", default))!;
        var dead = Assert.Single(await _raw.ReceiveMessageAsync(dlqUrl, 10, 1, 30, default));
        Assert.Contains(dead.MessageAttributes!.Keys, k => k.StartsWith(MessageHeaders.FailurePrefix, StringComparison.Ordinal) || k == "bus-headers");
        var url = (await _raw.GetQueueUrlAsync($"bt-{queue}", default))!;
        await _raw.SendMessageBatchAsync(url, [new SendMessageBatchRequestEntry { Id = "0", MessageBody = dead.Body!, MessageAttributes = dead.MessageAttributes }], default);
        await _raw.DeleteMessageBatchAsync(dlqUrl, [new DeleteMessageBatchRequestEntry { Id = "0", ReceiptHandle = dead.ReceiptHandle }], default);

        var back = await Fauxqs.ReceiveOneAsync(transport, queue);

        Assert.Equal(sent.MessageId, back.Message.MessageId);
        Assert.Equal(1, back.ReceiveCount); // a first attempt, not the third
        Assert.Equal(sent.Headers.OrderBy(h => h.Key), back.Message.Headers.OrderBy(h => h.Key)); // no failure or prior-attempt headers
        await back.DeadLetterAsync(FailureDetails.From("Non-retryable", null, 1, queue, DateTimeOffset.UtcNow), default);
        var again = Assert.Single(await transport.DeadLetters.PeekAsync(queue, 10, default));
        Assert.Equal("Non-retryable", again.Failure.Reason);
        Assert.Null(again.Failure.ExceptionType); // nothing left over from the first failure
        Assert.Equal(1, await transport.DeadLetters.PurgeAsync(queue, null, default));
    }

    [Fact]
    public async Task Where_the_service_has_StartMessageMoveTask_redrive_starts_it_from_the_dead_letter_queue_to_the_queue()
    {
        var handler = Service(move: () => ScriptedHandler.Json(HttpStatusCode.OK, """{"TaskHandle":"task-1"}"""));
        using var logs = new CapturingLoggerFactory();
        await using var transport = new SqsTransport(Fauxqs.Options(o =>
        {
            o.UseMessageMoveTask = true;
            o.HttpClientFactory = new HandlerClientFactory(handler);
        }), logs);

        var moved = await transport.DeadLetters.RedriveAsync("q", null, default);

        Assert.Equal(7, moved); // what the dead-letter queue held
        var (_, body, _) = Assert.Single(handler.Requests, r => r.Operation == "StartMessageMoveTask");
        Assert.Contains($"\"SourceArn\":\"{DeadLetterArn}\"", body);
        Assert.Contains($"\"DestinationArn\":\"{QueueArn}\"", body);
        Assert.DoesNotContain(handler.Requests, r => r.Operation == "ReceiveMessage");
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Information && e.Message.Contains("task-1", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(HttpStatusCode.BadRequest, """{"__type":"com.amazonaws.sqs#UnsupportedOperation","message":"Unsupported operation."}""")]
    [InlineData(HttpStatusCode.BadRequest, """{"__type":"UnknownOperationException"}""")]
    [InlineData(HttpStatusCode.NotImplemented, """{"message":"not implemented"}""")]
    public async Task Redrive_falls_back_to_the_mover_when_the_operation_is_unsupported(HttpStatusCode status, string error)
    {
        var handler = Service(move: () => ScriptedHandler.Json(status, error));
        await using var transport = new SqsTransport(Fauxqs.Options(o =>
        {
            o.UseMessageMoveTask = true;
            o.HttpClientFactory = new HandlerClientFactory(handler);
        }));

        var moved = await transport.DeadLetters.RedriveAsync("q", null, default);

        Assert.Equal(0, moved); // the mover found the dead-letter queue empty
        Assert.Single(handler.Requests, r => r.Operation == "StartMessageMoveTask"); // not retried
        Assert.Contains(handler.Requests, r => r.Operation == "ReceiveMessage" && r.Body.Contains(DeadLetterUrl, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Other_StartMessageMoveTask_errors_surface()
    {
        var handler = Service(move: () => ScriptedHandler.Json(HttpStatusCode.BadRequest, """{"__type":"com.amazonaws.sqs#AccessDenied","message":"not allowed"}"""));
        await using var transport = new SqsTransport(Fauxqs.Options(o =>
        {
            o.UseMessageMoveTask = true;
            o.HttpClientFactory = new HandlerClientFactory(handler);
        }));

        var error = await Assert.ThrowsAnyAsync<Amazon.SQS.AmazonSQSException>(() => transport.DeadLetters.RedriveAsync("q", null, default));

        Assert.Equal("AccessDenied", error.ErrorCode);
        Assert.DoesNotContain(handler.Requests, r => r.Operation == "ReceiveMessage");
    }

    /// <summary>Queue "bt-q" with dead-letter queue "bt-q-dlq" holding 7 messages (none returned by ReceiveMessage).</summary>
    private static ScriptedHandler Service(Func<HttpResponseMessage> move) => new((operation, body, _) => operation switch
    {
        "GetQueueUrl" => ScriptedHandler.Json(HttpStatusCode.OK, $$"""{"QueueUrl":"{{(body.Contains("-dlq", StringComparison.Ordinal) ? DeadLetterUrl : QueueUrl)}}"}"""),
        "GetQueueAttributes" when body.Contains("ApproximateNumberOfMessages", StringComparison.Ordinal) =>
            ScriptedHandler.Json(HttpStatusCode.OK, """{"Attributes":{"ApproximateNumberOfMessages":"7"}}"""),
        "GetQueueAttributes" => ScriptedHandler.Json(HttpStatusCode.OK,
            $$$"""{"Attributes":{"QueueArn":"{{{(body.Contains("-dlq", StringComparison.Ordinal) ? DeadLetterArn : QueueArn)}}}","MaximumMessageSize":"1048576"}}"""),
        "StartMessageMoveTask" => move(),
        "ReceiveMessage" => ScriptedHandler.Json(HttpStatusCode.OK, "{}"),
        _ => ScriptedHandler.Json(HttpStatusCode.BadRequest, """{"__type":"x#Unexpected","message":"unexpected"}"""),
    });
}

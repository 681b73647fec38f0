using System.Text;
using Bus.Hosting;
using Bus.Leases;
using Bus.Transports;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Bus.Conformance;

/// <summary>Retries, handler decisions, dead letters with their reasons, and redrive.</summary>
public abstract partial class BusConformanceTests
{
    [Fact]
    public async Task Failing_handler_is_retried_then_dead_lettered_once_with_the_reason()
    {
        var endpoint = await StartEndpointAsync("retries", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Bus.SendAsync(new DoWork(TestId, "r1", "throw"));
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Equal([1, 2, 3], Mine(Recorder.All).Select(h => h.Attempt));
        Assert.StartsWith("Attempts exhausted (3 of 3)", dead.Failure.Reason);
        Assert.Equal(typeof(InvalidOperationException).FullName, dead.Failure.ExceptionType);
        Assert.Equal("boom r1", dead.Failure.ExceptionMessage);
        Assert.Contains(nameof(DoWorkHandler), dead.Failure.StackTrace);
        Assert.Equal(3, dead.Failure.Attempts);
        Assert.Equal(endpoint.Name, dead.Failure.SourceQueue);
        Assert.Equal("conformance.do-work", dead.Message.Headers[MessageHeaders.MessageType]);
        Assert.Equal(Mine(Recorder.All).First().MessageId, dead.Message.MessageId);
        Assert.Equal(2, Probe.Count(endpoint.Name, "bus.messages.retried"));
        Assert.Equal(1, Probe.Count(endpoint.Name, "bus.messages.dead_lettered"));
    }

    [Fact]
    public async Task Handler_that_recovers_on_a_retry_completes_and_its_sends_go_out_once()
    {
        var endpoint = await StartEndpointAsync("recover", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Bus.SendAsync(new DoWork(TestId, "s1", "send-next", FailUntilAttempt: 2));
        await WaitForAsync(all => Mine(all).Any(h => ((DoWork)h.Message).Id == "s1.next"));
        await WaitForCountAsync(endpoint, "bus.messages.completed", 2);

        Assert.Equal([1, 2, 3], Mine(Recorder.All).Where(h => ((DoWork)h.Message).Id == "s1").Select(h => h.Attempt));
        Assert.Single(Mine(Recorder.All), h => ((DoWork)h.Message).Id == "s1.next");
    }

    [Fact]
    public async Task Messages_sent_by_a_failed_attempt_are_not_sent()
    {
        var endpoint = await StartEndpointAsync("ghost", b =>
        {
            b.AddHandler<DoWorkHandler>();
            b.Retry.MaxAttempts = 1;
            b.Retry.ImmediateRetries = 0;
        });

        await endpoint.Bus.SendAsync(new DoWork(TestId, "g1", "send-then-throw"));
        await SingleDeadLetterAsync(endpoint);
        await endpoint.Bus.SendAsync(new DoWork(TestId, "after"));
        await WaitForAsync(all => Mine(all).Any(h => ((DoWork)h.Message).Id == "after"));

        Assert.DoesNotContain(Mine(Recorder.All), h => ((DoWork)h.Message).Id == "g1.ghost");
    }

    [Fact]
    public async Task Non_retryable_exception_goes_straight_to_the_dead_letter_queue()
    {
        var endpoint = await StartEndpointAsync("nonretry", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Bus.SendAsync(new DoWork(TestId, "x1", "non-retryable"));
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Single(Mine(Recorder.All));
        Assert.StartsWith("Non-retryable NonRetryableException", dead.Failure.Reason);
        Assert.Equal(1, dead.Failure.Attempts);
    }

    [Fact]
    public async Task Exception_types_listed_as_non_retryable_are_not_retried()
    {
        var endpoint = await StartEndpointAsync("filter", b =>
        {
            b.AddHandler<DoWorkHandler>();
            b.Retry.DoNotRetry<InvalidOperationException>();
        });

        await endpoint.Bus.SendAsync(new DoWork(TestId, "f1", "throw"));
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Single(Mine(Recorder.All));
        Assert.Equal(typeof(InvalidOperationException).FullName, dead.Failure.ExceptionType);
    }

    [Fact]
    public async Task FailAsync_dead_letters_at_once_with_the_given_reason()
    {
        var endpoint = await StartEndpointAsync("failnow", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Bus.SendAsync(new DoWork(TestId, "q1", "fail"));
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Single(Mine(Recorder.All));
        Assert.Equal("rejected q1", dead.Failure.Reason);
        Assert.Null(dead.Failure.ExceptionType);
    }

    [Fact]
    public async Task FailAsync_swallowed_by_the_handler_still_dead_letters_and_sends_nothing()
    {
        var endpoint = await StartEndpointAsync("failswallowed", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Bus.SendAsync(new DoWork(TestId, "s1", "fail-swallowed"));
        var dead = await SingleDeadLetterAsync(endpoint);
        await endpoint.Bus.SendAsync(new DoWork(TestId, "after"));
        await WaitForAsync(all => Mine(all).Any(h => ((DoWork)h.Message).Id == "after"));

        Assert.Equal("rejected s1", dead.Failure.Reason);
        Assert.DoesNotContain(Mine(Recorder.All), h => ((DoWork)h.Message).Id == "s1.ghost");
    }

    [Fact]
    public async Task A_compensation_sent_even_if_the_handler_fails_goes_out_and_the_message_is_dead_lettered()
    {
        var subscriber = await StartEndpointAsync("compensations", b => b.AddHandler<WorkDoneHandler>());
        var endpoint = await StartEndpointAsync("payments", b => b.AddHandler<DoWorkHandler>().AddMessage<WorkDone>());

        await endpoint.Bus.SendAsync(new DoWork(TestId, "p1", "compensate-then-fail"));
        var dead = await SingleDeadLetterAsync(endpoint);
        await WaitForAsync(all => Mine(all).Any(h => h.Message is WorkDone { Id: "p1.compensated" }));
        await endpoint.Bus.SendAsync(new DoWork(TestId, "after"));
        await WaitForAsync(all => Mine(all).Any(h => h.Message is DoWork { Id: "after" }));

        Assert.Equal("payment failed p1", dead.Failure.Reason);
        Assert.Equal(subscriber.Name, Assert.Single(Mine(Recorder.All), h => h.Message is WorkDone).Endpoint);
        Assert.DoesNotContain(Mine(Recorder.All), h => h.Message is DoWork { Id: "p1.ghost" });
    }

    [Fact]
    public async Task Body_that_does_not_deserialize_is_dead_lettered_with_the_reason()
    {
        var endpoint = await StartEndpointAsync("badbody", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Transport.SendAsync([Raw(endpoint.Name, "conformance.do-work", "{ this is not json")], default);
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Empty(Mine(Recorder.All));
        Assert.Contains("could not be deserialized as 'conformance.do-work'", dead.Failure.Reason);
        Assert.Equal("{ this is not json", Encoding.UTF8.GetString(dead.Message.Body.Span));
    }

    [Fact]
    public async Task Messages_waiting_for_a_busy_worker_are_handled_or_dead_lettered_like_any_other()
    {
        // With one worker busy, the next messages wait in the receive buffer (prefetched). Once the worker is free, a
        // body that does not deserialize, or a newer version than the endpoint knows, is dead-lettered with its reason,
        // and the good message behind them is handled.
        var endpoint = await StartEndpointAsync("waiting", b =>
        {
            b.MaxConcurrency = 1;
            b.AddHandler<DoWorkHandler>();
        });
        string Json(string id, string mode) => $"{{\"test\":\"{TestId}\",\"id\":\"{id}\",\"mode\":\"{mode}\"}}";

        await endpoint.Transport.SendAsync(
            [
                Raw(endpoint.Name, "conformance.do-work", Json("busy", "block")),
                Raw(endpoint.Name, "conformance.do-work", "{ this is not json"),
                Raw(endpoint.Name, "conformance.do-work", Json("newer", "ok"), version: "2"),
                Raw(endpoint.Name, "conformance.do-work", Json("after", "ok")),
            ],
            default);
        await WaitForAsync(all => Mine(all).Any(h => ((DoWork)h.Message).Id == "busy"));
        Recorder.Open("busy");
        await WaitForCountAsync(endpoint, "bus.messages.dead_lettered", 2);
        await WaitForAsync(all => Mine(all).Any(h => ((DoWork)h.Message).Id == "after"));

        var dead = await endpoint.DeadLetters.PeekAsync(endpoint.Name, 10, default);
        Assert.Equal(2, dead.Count);
        var unreadable = Assert.Single(dead, d => d.Failure.Reason.Contains("could not be deserialized as 'conformance.do-work'", StringComparison.Ordinal));
        Assert.Equal("{ this is not json", Encoding.UTF8.GetString(unreadable.Message.Body.Span));
        Assert.Single(dead, d => d.Failure.Reason.Contains("is version 2, newer than the version 1", StringComparison.Ordinal));
        Assert.Equal(["after", "busy"], Mine(Recorder.All).Select(h => ((DoWork)h.Message).Id).Order());
    }

    [Theory]
    [InlineData("unknown type", "nobody.knows-this", "Unknown message type")]
    [InlineData("undeserializable body", "conformance.do-work", "could not be deserialized")]
    [InlineData("exhausted attempts", "conformance.do-work", "Attempts exhausted (3 of 3)")]
    public async Task A_message_100_bytes_under_the_size_limit_is_dead_lettered_whole_with_its_reason(string path, string wireName, string reason)
    {
        var endpoint = await StartEndpointAsync("nearlimit", b => b.AddHandler<DoWorkHandler>());
        var limit = endpoint.Transport.Capabilities.MaxMessageSize ?? 1024 * 1024;
        string Body(string padding) => path == "undeserializable body"
            ? "{ not json " + padding
            : $$"""{"test":"{{TestId}}","id":"{{padding}}","mode":"throw"}""";
        var overhead = MessageSizeLimit.SizeOf(Raw(endpoint.Name, wireName, Body(string.Empty)).Message);
        var raw = Raw(endpoint.Name, wireName, Body(new string('p', (int)(limit - overhead - 100))));

        await endpoint.Transport.SendAsync([raw], default);
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Equal(raw.Message.MessageId, dead.Message.MessageId);
        Assert.Equal(raw.Message.Body.ToArray(), dead.Message.Body.ToArray());
        Assert.Contains(reason, dead.Failure.Reason);
    }

    [Fact]
    public async Task Unknown_wire_name_is_dead_lettered_with_the_reason()
    {
        var endpoint = await StartEndpointAsync("unknown", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Transport.SendAsync([Raw(endpoint.Name, "nobody.knows-this", "{}")], default);
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Contains("Unknown message type 'nobody.knows-this'", dead.Failure.Reason);
        Assert.Equal("nobody.knows-this", dead.Message.Headers[MessageHeaders.MessageType]);
    }

    [Fact]
    public async Task A_newer_version_than_the_endpoint_knows_is_dead_lettered_and_an_older_or_equal_one_is_handled()
    {
        var endpoint = await StartEndpointAsync("versions", b => b.AddHandler<VersionedWorkHandler>());
        string Body(string id) => $"{{\"test\":\"{TestId}\",\"id\":\"{id}\"}}";

        await endpoint.Transport.SendAsync([Raw(endpoint.Name, "conformance.versioned-work", Body("newer"), version: "3")], default);
        var dead = await SingleDeadLetterAsync(endpoint);
        await endpoint.Transport.SendAsync(
            [Raw(endpoint.Name, "conformance.versioned-work", Body("older"), version: "1"), Raw(endpoint.Name, "conformance.versioned-work", Body("same"), version: "2")],
            default);
        await WaitForAsync(all => all.Count(h => h.Message is VersionedWork w && w.Test == TestId) == 2);

        Assert.Contains("Message type 'conformance.versioned-work' is version 3, newer than the version 2", dead.Failure.Reason);
        Assert.Equal("3", dead.Message.Headers[MessageHeaders.MessageVersion]);
        Assert.Equal(["older", "same"], Recorder.All.Select(h => h.Message).OfType<VersionedWork>().Where(w => w.Test == TestId).Select(w => w.Id).Order());
    }

    [Fact]
    public async Task A_message_with_an_invalid_version_is_dead_lettered_with_the_reason()
    {
        var endpoint = await StartEndpointAsync("badversion", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Transport.SendAsync([Raw(endpoint.Name, "conformance.do-work", "{}", version: "two")], default);
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Contains("Message type 'conformance.do-work' has an invalid version 'two'", dead.Failure.Reason);
        Assert.Empty(Mine(Recorder.All));
    }

    [Fact]
    public async Task Message_with_no_handler_is_dead_lettered_with_the_reason()
    {
        var endpoint = await StartEndpointAsync("nohandler", b => b.AddHandler<WorkDoneHandler>().AddMessage<DoWork>());

        await endpoint.Bus.SendAsync(new DoWork(TestId, "nh"), new DeliveryOptions { Destination = endpoint.Name });
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Contains("No handler for message type 'conformance.do-work'", dead.Failure.Reason);
    }

    [Fact]
    public async Task Foreign_payload_without_bus_headers_is_dead_lettered_not_deleted()
    {
        var endpoint = await StartEndpointAsync("foreign", b => b.AddHandler<DoWorkHandler>());
        var body = "{\"source\":\"somewhere.else\",\"detail-type\":\"Nothing we know\"}";

        await endpoint.Transport.SendAsync([new OutgoingMessage(Destination.Queue(endpoint.Name),
            new TransportMessage(new Dictionary<string, string>(), Encoding.UTF8.GetBytes(body)))], default);
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Contains("no bus-message-type header", dead.Failure.Reason);
        Assert.Equal(body, Encoding.UTF8.GetString(dead.Message.Body.Span));
    }

    [Fact]
    public async Task Redrive_returns_dead_letters_with_their_identity()
    {
        var endpoint = await StartEndpointAsync("redrive", b => b.AddHandler<DoWorkHandler>());
        var options = new DeliveryOptions { MessageId = $"fixed-{TestId}" };
        options.Headers["origin"] = "test";

        await endpoint.Bus.SendAsync(new DoWork(TestId, "rd", "fail"), options);
        var dead = await SingleDeadLetterAsync(endpoint);
        var moved = await endpoint.DeadLetters.RedriveAsync(endpoint.Name, [dead.Message.MessageId!], default);
        await WaitForAsync(all => Mine(all).Count() >= 2);

        Assert.Equal(1, moved);
        var again = Mine(Recorder.All).Last();
        Assert.Equal($"fixed-{TestId}", again.MessageId);
        Assert.Equal("test", again.Headers["origin"]);
        Assert.Equal(1, again.Attempt);
        Assert.DoesNotContain(again.Headers.Keys, MessageHeaders.IsFailureHeader);
    }
}

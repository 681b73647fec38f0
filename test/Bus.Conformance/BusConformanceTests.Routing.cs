using System.Text;
using Bus.Hosting;
using Bus.Leases;
using Bus.Transports;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Bus.Conformance;

/// <summary>Routing, fan-out, headers, delays and time windows.</summary>
public abstract partial class BusConformanceTests
{
    [Fact]
    public async Task Command_is_sent_to_its_one_owning_endpoint()
    {
        var owner = await StartEndpointAsync("owner", b => b.AddHandler<DoWorkHandler>());
        var sender = await StartEndpointAsync("sender", b => b.RouteCommand<DoWork>(owner.Name));

        await sender.Bus.SendAsync(new DoWork(TestId, "c1"));
        await WaitForAsync(all => Mine(all).Any());

        var handled = Assert.Single(Mine(Recorder.All));
        Assert.Equal(owner.Name, handled.Endpoint);
        Assert.Equal(1, handled.Attempt);
        await WaitForCountAsync(owner, "bus.messages.completed", 1);
    }

    [Fact]
    public async Task Event_fans_out_to_every_subscribing_endpoint()
    {
        var a = await StartEndpointAsync("sub-a", b => b.AddHandler<WorkDoneHandler>());
        var b = await StartEndpointAsync("sub-b", b => b.AddHandler<WorkDoneHandler>());
        var publisher = await StartEndpointAsync("publisher", b => b.AddMessage<WorkDone>());

        await publisher.Bus.PublishAsync(new WorkDone(TestId, "e1"));
        await WaitForAsync(all => Mine(all).Count() >= 2);

        var endpoints = Mine(Recorder.All).Select(h => h.Endpoint).Order().ToList();
        Assert.Equal(new[] { a.Name, b.Name }.Order(), endpoints);
        Assert.Single(Mine(Recorder.All).Select(h => h.MessageId).Distinct());
    }

    [Fact]
    public async Task Headers_correlation_causation_and_sticky_headers_flow_to_what_a_handler_sends()
    {
        var endpoint = await StartEndpointAsync("headers", b => b.AddHandler<DoWorkHandler>().AddHandler<WorkDoneHandler>());
        var options = new DeliveryOptions { CorrelationId = $"corr-{TestId}" };
        options.Headers["tenant"] = "acme";
        options.StickyHeaders["trace-tag"] = "sticky-1";

        await endpoint.Bus.SendAsync(new DoWork(TestId, "h1", "publish"), options);
        await WaitForAsync(all => Mine(all).Any(h => h.Message is WorkDone));

        var first = Mine(Recorder.All).Single(h => h.Message is DoWork);
        var second = Mine(Recorder.All).Single(h => h.Message is WorkDone);
        Assert.Equal("acme", first.Headers["tenant"]);
        Assert.Equal($"corr-{TestId}", first.Headers[MessageHeaders.CorrelationId]);
        Assert.Equal("conformance.do-work", first.Headers[MessageHeaders.MessageType]);
        Assert.Equal($"corr-{TestId}", second.Headers[MessageHeaders.CorrelationId]);
        Assert.Equal(first.MessageId, second.Headers[MessageHeaders.CausationId]);
        Assert.Equal("sticky-1", second.Headers["trace-tag"]);
        Assert.False(second.Headers.ContainsKey("tenant"), "plain headers do not ride along");
        Assert.NotEqual(first.MessageId, second.MessageId);
    }

    [Fact]
    public async Task A_sticky_list_naming_the_buss_own_headers_does_not_make_them_ride_along()
    {
        // Each message has its own id, type and sent-at time: a received sticky list that names them (from another
        // sender) carries only the headers that may ride along.
        var endpoint = await StartEndpointAsync("sticky-own", b => b.AddHandler<DoWorkHandler>());
        var raw = Raw(endpoint.Name, "conformance.do-work", $"{{\"test\":\"{TestId}\",\"id\":\"s1\",\"mode\":\"send-next\"}}");
        var headers = raw.Message.Headers.ToDictionary(h => h.Key, h => h.Value);
        headers[MessageHeaders.StickyHeaders] = $"{MessageHeaders.MessageId},{MessageHeaders.MessageType},{MessageHeaders.SentAt},trace-tag";
        headers["trace-tag"] = "t-1";
        headers[MessageHeaders.SentAt] = "2020-01-01T00:00:00.0000000+00:00";

        await endpoint.Transport.SendAsync([raw with { Message = new TransportMessage(headers, raw.Message.Body) }], default);
        await WaitForAsync(all => Mine(all).Count() >= 2);

        var first = Mine(Recorder.All).Single(h => ((DoWork)h.Message).Id == "s1");
        var next = Mine(Recorder.All).Single(h => ((DoWork)h.Message).Id == "s1.next");
        Assert.NotEqual(first.MessageId, next.MessageId);
        Assert.Equal("conformance.do-work", next.Headers[MessageHeaders.MessageType]);
        Assert.NotEqual("2020-01-01T00:00:00.0000000+00:00", next.Headers[MessageHeaders.SentAt]);
        Assert.Equal("t-1", next.Headers["trace-tag"]);
        Assert.Equal(first.MessageId, next.Headers[MessageHeaders.CausationId]);
        Assert.Empty(await endpoint.Transport.DeadLetters.PeekAsync(endpoint.Name, 10, default));
    }

    [Fact]
    public async Task Without_a_correlation_id_a_new_conversation_starts_with_the_message_id()
    {
        var endpoint = await StartEndpointAsync("corr", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Bus.SendAsync(new DoWork(TestId, "n1", "send-next"));
        await WaitForAsync(all => Mine(all).Count() >= 2);

        var first = Mine(Recorder.All).Single(h => ((DoWork)h.Message).Id == "n1");
        var next = Mine(Recorder.All).Single(h => ((DoWork)h.Message).Id == "n1.next");
        Assert.Equal(first.MessageId, first.Headers[MessageHeaders.CorrelationId]);
        Assert.Equal(first.MessageId, next.Headers[MessageHeaders.CorrelationId]);
    }

    [Fact]
    public async Task Delayed_message_is_not_handled_before_it_is_due()
    {
        var endpoint = await StartEndpointAsync("delay", b => b.AddHandler<DoWorkHandler>());
        var sentAt = Time.GetUtcNow();
        var delay = ShortLease * 2;

        await endpoint.Bus.SendAsync(new DoWork(TestId, "d1"), new DeliveryOptions { Delay = delay });
        await WaitForAsync(all => Mine(all).Any());

        var handled = Assert.Single(Mine(Recorder.All));
        Assert.True(handled.At >= sentAt + delay, $"handled at {handled.At:O}, due {sentAt + delay:O}");
    }

    [Fact]
    public async Task Message_received_outside_its_time_window_waits_until_it_opens_without_counting_an_attempt()
    {
        // A daily window that opens a few seconds from now (whole seconds: windows are set as "HH:mm:ss").
        var now = Time.GetUtcNow();
        var opens = new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero) + TimeSpan.FromSeconds(1) + (ShortLease * 3);
        var window = TimeWindow.Daily(
            opens.ToString("HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture),
            (opens + TimeSpan.FromHours(1)).ToString("HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture));
        var endpoint = await StartEndpointAsync("window", b => b.AddHandler<DoWorkHandler>().ConfigureHandling<DoWork>(h => h.Window = window));

        await endpoint.Bus.SendAsync(new DoWork(TestId, "w1"));
        await WaitForAsync(all => Mine(all).Any());

        var handled = Assert.Single(Mine(Recorder.All));
        Assert.True(handled.At >= opens, $"handled at {handled.At:O}, before the window opened at {opens:O}");
        Assert.Equal(1, handled.Attempt);
        Assert.True(Probe.Count(endpoint.Name, "bus.messages.released") >= 1, "deferred (released) until the window opened");
        Assert.Equal(0, Probe.Count(endpoint.Name, "bus.messages.retried"));
    }
}

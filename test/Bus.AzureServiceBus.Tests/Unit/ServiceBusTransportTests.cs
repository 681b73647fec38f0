using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Bus.AzureServiceBus.Management;
using Bus.AzureServiceBus.Tests.Fake;
using Bus.Testing;
using Bus.Transports;

namespace Bus.AzureServiceBus.Tests.Unit;

/// <summary>Service Bus specifics beyond the shared contract, over the REST fake.</summary>
public sealed class ServiceBusTransportTests : IAsyncDisposable
{
    private readonly ManualTimeProvider _time = new();
    private readonly FakeServiceBus _fake;
    private readonly ServiceBusTransport _transport;

    public ServiceBusTransportTests()
    {
        _fake = new FakeServiceBus(_time) { Latency = TimeSpan.FromMilliseconds(5) };
        _transport = FakeTransports.Create(_fake, _time, o => o.MaxDeliveryCount = 3);
    }

    public async ValueTask DisposeAsync()
    {
        await _transport.DisposeAsync();
        _fake.Dispose();
    }

    [Fact]
    public async Task Provision_creates_queue_error_queue_topics_and_forwarding_subscriptions()
    {
        await _transport.ProvisionAsync(new TransportTopology("orders", ["order.placed"], ["payment.received"]), default);

        Assert.True(_fake.Exists("orders"));
        Assert.True(_fake.Exists("orders-error"));
        Assert.True(_fake.Exists("order.placed"));
        Assert.True(_fake.Exists("payment.received"));
        Assert.Equal("orders", _fake.ForwardTo("payment.received/Subscriptions/orders"));
        Assert.Equal(TimeSpan.FromSeconds(10), _fake.LockDurationOf("orders"));
        Assert.Equal(3, _fake.MaxDeliveryCountOf("orders"));
        Assert.Equal(int.MaxValue, _fake.MaxDeliveryCountOf("orders-error"));

        // Idempotent: 409 is fine.
        await _transport.ProvisionAsync(new TransportTopology("orders", ["order.placed"], ["payment.received"]), default);
    }

    [Fact]
    public async Task A_ready_made_signature_also_authorizes_the_forwarding_target()
    {
        var signature = Authentication.SasTokenProvider.CreateToken(
            $"https://{FakeServiceBus.Host}/", FakeServiceBus.KeyName, Encoding.UTF8.GetBytes(FakeServiceBus.Key), _time.GetUtcNow().AddHours(1).ToUnixTimeSeconds());
        await using var transport = FakeTransports.Create(_fake, _time,
            o => o.ConnectionString = $"Endpoint=sb://{FakeServiceBus.Host}/;SharedAccessSignature={signature}");

        await transport.ProvisionAsync(new TransportTopology("orders", [], ["evt"]), default);

        Assert.Equal("orders", _fake.ForwardTo("evt/Subscriptions/orders"));
    }

    [Fact]
    public async Task Entity_prefix_applies_to_queues_and_topics()
    {
        await using var prefixed = FakeTransports.Create(_fake, _time, o => o.EntityPrefix = "prod-");

        await prefixed.ProvisionAsync(new TransportTopology("orders", [], ["evt"]), default);

        Assert.True(_fake.Exists("prod-orders"));
        Assert.True(_fake.Exists("prod-orders-error"));
        Assert.Equal("prod-orders", _fake.ForwardTo("prod-evt/Subscriptions/orders"));
    }

    [Fact]
    public async Task Verify_only_fails_naming_what_is_missing_and_passes_once_it_exists()
    {
        await using var verifier = FakeTransports.Create(_fake, _time, o => o.ProvisioningMode = ProvisioningMode.VerifyOnly);
        var topology = new TransportTopology("orders", [], ["evt"]);

        var error = await Assert.ThrowsAsync<BusConfigurationException>(() => verifier.ProvisionAsync(topology, default));

        Assert.Contains("queue 'orders'", error.Message, StringComparison.Ordinal);
        Assert.Contains("error queue 'orders-error'", error.Message, StringComparison.Ordinal);
        Assert.Contains("topic 'evt'", error.Message, StringComparison.Ordinal);
        Assert.Contains("subscription 'evt/Subscriptions/orders'", error.Message, StringComparison.Ordinal);
        Assert.False(_fake.Exists("orders"));

        await _transport.ProvisionAsync(topology, default);
        await verifier.ProvisionAsync(topology, default);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("elsewhere")]
    public async Task Verify_only_reports_a_subscription_that_does_not_forward_into_the_endpoint_queue(string? forwardTo)
    {
        await using var verifier = FakeTransports.Create(_fake, _time, o => o.ProvisioningMode = ProvisioningMode.VerifyOnly);
        await SeedTopologyWithForeignSubscriptionAsync(forwardTo);

        var error = await Assert.ThrowsAsync<BusConfigurationException>(() => verifier.ProvisionAsync(new TransportTopology("orders", [], ["evt"]), default));

        var now = forwardTo is null ? "does not forward" : "forwards to 'elsewhere', not";
        Assert.Contains($"subscription 'evt/Subscriptions/orders' {now} into the endpoint's queue 'orders'", error.Message, StringComparison.Ordinal);
        Assert.Equal(forwardTo, _fake.ForwardTo("evt/Subscriptions/orders"));
    }

    [Fact]
    public void A_subscription_update_leaves_out_durations_that_read_as_never()
    {
        var never = System.Xml.XmlConvert.ToString(TimeSpan.MaxValue);
        var read = XElement.Parse(
            "<SubscriptionDescription xmlns=\"http://schemas.microsoft.com/netservices/2010/10/servicebus/connect\">" +
            $"<LockDuration>PT45S</LockDuration><DefaultMessageTimeToLive>{never}</DefaultMessageTimeToLive>" +
            $"<MaxDeliveryCount>7</MaxDeliveryCount><AutoDeleteOnIdle>{never}</AutoDeleteOnIdle></SubscriptionDescription>");

        var update = XElement.Parse(EntityDescriptions.ForwardingUpdate(read, "https://contoso.servicebus.windows.net/orders"))
            .Descendants(EntityDescriptions.ServiceBus + "SubscriptionDescription").Single();

        Assert.Equal(["LockDuration", "MaxDeliveryCount", "ForwardTo"], update.Elements().Select(e => e.Name.LocalName));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("elsewhere")]
    public async Task Provisioning_points_an_existing_subscription_at_the_endpoint_queue(string? forwardTo)
    {
        await SeedTopologyWithForeignSubscriptionAsync(forwardTo);

        await _transport.ProvisionAsync(new TransportTopology("orders", [], ["evt"]), default);
        await _transport.SendAsync([new OutgoingMessage(Destination.Topic("evt"), Message("event"))], default);

        Assert.Equal("orders", _fake.ForwardTo("evt/Subscriptions/orders"));
        Assert.Single(_fake.MessagesIn("orders"));
        Assert.Empty(_fake.MessagesIn("elsewhere"));
        await using var verifier = FakeTransports.Create(_fake, _time, o => o.ProvisioningMode = ProvisioningMode.VerifyOnly);
        await verifier.ProvisionAsync(new TransportTopology("orders", [], ["evt"]), default);
    }

    [Fact]
    public async Task Provisioning_reports_a_session_subscription_it_cannot_point_at_the_endpoint_queue_and_leaves_it_alone()
    {
        await SeedTopologyWithForeignSubscriptionAsync(null, requiresSession: true);

        var error = await Assert.ThrowsAsync<BusConfigurationException>(() => _transport.ProvisionAsync(new TransportTopology("orders", [], ["evt"]), default));

        Assert.Contains("subscription 'evt/Subscriptions/orders' does not forward into the endpoint's queue 'orders', and it RequiresSession", error.Message, StringComparison.Ordinal);
        Assert.Null(_fake.ForwardTo("evt/Subscriptions/orders"));
    }

    [Fact]
    public async Task Pointing_an_existing_subscription_at_the_endpoint_queue_keeps_its_other_settings()
    {
        await SeedTopologyWithForeignSubscriptionAsync("elsewhere", lockDuration: TimeSpan.FromSeconds(45), maxDeliveryCount: 7);

        await _transport.ProvisionAsync(new TransportTopology("orders", [], ["evt"]), default);

        Assert.Equal("orders", _fake.ForwardTo("evt/Subscriptions/orders"));
        Assert.Equal(TimeSpan.FromSeconds(45), _fake.LockDurationOf("evt/Subscriptions/orders"));
        Assert.Equal(7, _fake.MaxDeliveryCountOf("evt/Subscriptions/orders"));
    }

    [Fact]
    public async Task A_subscription_update_writes_back_the_settable_settings_in_schema_order_and_not_what_the_service_counts()
    {
        var read = XElement.Parse(
            "<SubscriptionDescription xmlns=\"http://schemas.microsoft.com/netservices/2010/10/servicebus/connect\">" +
            "<LockDuration>PT45S</LockDuration><RequiresSession>false</RequiresSession><DefaultMessageTimeToLive>P14D</DefaultMessageTimeToLive>" +
            "<MessageCount>12</MessageCount><MaxDeliveryCount>7</MaxDeliveryCount><Status>Active</Status>" +
            "<ForwardTo>https://contoso.servicebus.windows.net/elsewhere</ForwardTo><CreatedAt>2026-01-01T00:00:00Z</CreatedAt>" +
            "<AutoDeleteOnIdle>P30D</AutoDeleteOnIdle><EntityAvailabilityStatus>Available</EntityAvailabilityStatus>" +
            "<ForwardDeadLetteredMessagesTo>https://contoso.servicebus.windows.net/errors</ForwardDeadLetteredMessagesTo>" +
            "</SubscriptionDescription>");

        var update = XElement.Parse(EntityDescriptions.ForwardingUpdate(read, "https://contoso.servicebus.windows.net/orders"))
            .Descendants(EntityDescriptions.ServiceBus + "SubscriptionDescription").Single();

        Assert.Equal(
            ["LockDuration", "RequiresSession", "DefaultMessageTimeToLive", "MaxDeliveryCount", "Status", "ForwardTo", "ForwardDeadLetteredMessagesTo", "AutoDeleteOnIdle"],
            update.Elements().Select(e => e.Name.LocalName));
        Assert.Equal("https://contoso.servicebus.windows.net/orders", update.Element(EntityDescriptions.ServiceBus + "ForwardTo")!.Value);
        Assert.Equal("P14D", update.Element(EntityDescriptions.ServiceBus + "DefaultMessageTimeToLive")!.Value);
        Assert.Equal("P30D", update.Element(EntityDescriptions.ServiceBus + "AutoDeleteOnIdle")!.Value);
        Assert.Equal("https://contoso.servicebus.windows.net/errors", update.Element(EntityDescriptions.ServiceBus + "ForwardDeadLetteredMessagesTo")!.Value);
    }

    [Fact]
    public async Task An_endpoint_queue_that_forwards_elsewhere_fails_provisioning_and_verification_and_is_left_alone()
    {
        const string path = "orders";
        await _transport.ProvisionAsync(new TransportTopology("orders", [], []), default);
        await PutWithForwardAsync(path, EntityDescriptions.Queue(TimeSpan.FromSeconds(10), 3), "elsewhere");

        var provisioning = await Assert.ThrowsAsync<BusConfigurationException>(() => _transport.ProvisionAsync(new TransportTopology("orders", [], []), default));
        await using var verifier = FakeTransports.Create(_fake, _time, o => o.ProvisioningMode = ProvisioningMode.VerifyOnly);
        var verification = await Assert.ThrowsAsync<BusConfigurationException>(() => verifier.ProvisionAsync(new TransportTopology("orders", [], []), default));

        Assert.Contains("queue 'orders' forwards to 'elsewhere', so the endpoint would never receive its messages", provisioning.Message, StringComparison.Ordinal);
        Assert.Contains("queue 'orders' forwards to 'elsewhere'", verification.Message, StringComparison.Ordinal);
        Assert.Equal("elsewhere", _fake.ForwardTo(path));
    }

    [Fact]
    public async Task An_existing_queue_with_a_shorter_lock_than_configured_fails_provisioning()
    {
        await using var shortLock = FakeTransports.Create(_fake, _time, o => o.LockDuration = TimeSpan.FromSeconds(5));
        await shortLock.ProvisionAsync(new TransportTopology("q", [], []), default);

        var error = await Assert.ThrowsAsync<BusConfigurationException>(() => _transport.ProvisionAsync(new TransportTopology("q", [], []), default));

        Assert.Contains("queue 'q' has LockDuration 00:00:05", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_sets_broker_message_id_correlation_id_and_schedule()
    {
        await _transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        var message = Message("body", (MessageHeaders.CorrelationId, "corr-9"));
        var due = _time.GetUtcNow().AddMinutes(30).AddMilliseconds(400);

        await _transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), message, due)], default);

        var stored = Assert.Single(_fake.MessagesIn("q"));
        Assert.Equal(message.MessageId, stored.MessageId);
        Assert.Equal("corr-9", stored.CorrelationId);
        var wholeSecond = new DateTimeOffset(due.UtcTicks - (due.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero).AddSeconds(1);
        Assert.Equal(wholeSecond, stored.VisibleAt); // rounded up to the whole second, never early
        Assert.Equal($"\"{message.MessageId}\"", stored.Properties[MessageHeaders.MessageId]);
    }

    [Fact]
    public async Task Several_text_messages_to_one_entity_go_as_one_batch_and_binary_bodies_alone()
    {
        await _transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        var before = _fake.Requests.Count;

        await _transport.SendAsync(
        [
            new OutgoingMessage(Destination.Queue("q"), Message("one", ("h", "åäö"))),
            new OutgoingMessage(Destination.Queue("q"), Message("two")),
            new OutgoingMessage(Destination.Queue("q"), new TransportMessage(Headers(), new byte[] { 0, 255, 1 })),
        ], default);

        var sends = _fake.Requests.Skip(before).ToList();
        Assert.Equal(2, sends.Count);
        Assert.Equal("application/vnd.microsoft.servicebus.json", sends[0].ContentType);
        Assert.Equal(3, _fake.MessagesIn("q").Count);
        var received = new List<IReceivedMessage>();
        for (var i = 0; i < 3; i++)
        {
            received.AddRange(await ReceiveAsync("q"));
        }

        Assert.Equal("åäö", received.Single(r => r.Message.Body.Span.SequenceEqual("one"u8)).Message.Headers["h"]);
        Assert.Contains(received, r => r.Message.Body.Span.SequenceEqual(new byte[] { 0, 255, 1 }));
    }

    [Fact]
    public async Task Headers_that_cannot_be_http_headers_fail_before_anything_is_sent()
    {
        await _transport.ProvisionAsync(new TransportTopology("q", [], []), default);

        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            _transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), Message("x", ("bad name", "v")))], default));

        Assert.Contains("'bad name'", error.Message, StringComparison.Ordinal);
        Assert.Empty(_fake.MessagesIn("q"));
    }

    [Theory]
    [InlineData(1)] // one message: properties as HTTP request headers
    [InlineData(2)] // a batch: properties in the JSON body
    public async Task Header_names_http_knows_keep_their_casing(int count)
    {
        await _transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        var sent = Enumerable.Range(0, count)
            .Select(i => new OutgoingMessage(Destination.Queue("q"), Message($"m{i}", ("origin", "test"), ("range", "1-2"), ("Tenant", "acme"), ("via", "x"))))
            .ToList();

        await _transport.SendAsync(sent, default);
        var received = await _transport.ReceiveAsync("q", count, TimeSpan.FromSeconds(30), default);

        Assert.Equal(count, received.Count);
        Assert.All(received, r =>
        {
            Assert.Equal("test", r.Message.Headers["origin"]);
            Assert.Equal("1-2", r.Message.Headers["range"]);
            Assert.Equal("acme", r.Message.Headers["Tenant"]);
            Assert.Equal("x", r.Message.Headers["via"]);
            Assert.Equal(5, r.Message.Headers.Count); // and the message id; the casing list is not a header
        });
    }

    [Theory]
    [InlineData("allow")]
    [InlineData("Content-Language")]
    [InlineData("bus-property-names")]
    public async Task Header_names_http_cannot_carry_as_properties_fail_before_anything_is_sent(string name)
    {
        await _transport.ProvisionAsync(new TransportTopology("q", [], []), default);

        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            _transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), Message("x", (name, "v")))], default));

        Assert.Contains($"'{name}'", error.Message, StringComparison.Ordinal);
        Assert.Empty(_fake.MessagesIn("q"));
    }

    [Fact]
    public async Task Receive_takes_up_to_max_messages()
    {
        await _transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        await _transport.SendAsync(Enumerable.Range(0, 5).Select(i => new OutgoingMessage(Destination.Queue("q"), Message($"m{i}"))).ToList(), default);

        var received = await _transport.ReceiveAsync("q", 3, TimeSpan.FromSeconds(30), default);

        Assert.Equal(3, received.Count);
        Assert.Equal(3, received.Select(r => r.Message.MessageId).Distinct().Count());
        Assert.All(received, r => Assert.InRange(r.LeaseExpiresAt - _time.GetUtcNow(), TimeSpan.FromSeconds(9), TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_foreign_message_gets_the_broker_message_id()
    {
        await _transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        using var http = new HttpClient(_fake, disposeHandler: false);
        var sas = new Authentication.SasTokenProvider(FakeServiceBus.KeyName, FakeServiceBus.Key, new Uri($"https://{FakeServiceBus.Host}/"), _time);
        var request = new HttpRequestMessage(HttpMethod.Post, $"https://{FakeServiceBus.Host}/q/messages") { Content = new StringContent("{\"detail\":1}") };
        request.Headers.TryAddWithoutValidation("Authorization", sas.GetToken($"https://{FakeServiceBus.Host}/"));
        request.Headers.TryAddWithoutValidation("BrokerProperties", "{\"MessageId\":\"broker-42\"}");
        request.Headers.TryAddWithoutValidation("Priority", "3");
        await http.SendAsync(request);

        var received = Assert.Single(await ReceiveAsync("q"));

        Assert.Equal("broker-42", received.Message.MessageId);
        Assert.Equal("3", received.Message.Headers["Priority"]);
    }

    [Fact]
    public async Task Abandon_with_delay_schedules_a_copy_counting_the_attempt_and_completes_the_original()
    {
        await _transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        var sent = Message("retry");
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), sent)], default);
        var first = Assert.Single(await ReceiveAsync("q"));

        await first.AbandonAsync(TimeSpan.FromMinutes(10), default);

        var copy = Assert.Single(_fake.MessagesIn("q"));
        Assert.Equal(sent.MessageId, copy.MessageId);
        Assert.Equal("\"1\"", copy.Properties[MessageHeaders.PriorAttempts]);
        Assert.True(copy.VisibleAt >= _time.GetUtcNow().AddMinutes(10).AddSeconds(-1));
        _time.Advance(TimeSpan.FromMinutes(10));
        var second = Assert.Single(await ReceiveAsync("q"));
        Assert.Equal(2, second.ReceiveCount);
        Assert.False(second.Message.Headers.ContainsKey(MessageHeaders.PriorAttempts));
    }

    [Fact]
    public async Task Release_with_delay_schedules_a_copy_that_does_not_count_the_attempt()
    {
        await _transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), Message("checkpoint"))], default);
        var first = Assert.Single(await ReceiveAsync("q"));
        await first.AbandonAsync(TimeSpan.Zero, default);
        var second = Assert.Single(await ReceiveAsync("q"));
        Assert.Equal(2, second.ReceiveCount);

        await second.ReleaseAsync(TimeSpan.FromMinutes(1), default);

        Assert.Equal("\"1\"", Assert.Single(_fake.MessagesIn("q")).Properties[MessageHeaders.PriorAttempts]);
        _time.Advance(TimeSpan.FromMinutes(1));
        var third = Assert.Single(await ReceiveAsync("q"));
        Assert.Equal(2, third.ReceiveCount); // 1 prior + this delivery: the release did not count
    }

    [Fact]
    public async Task A_lost_lock_makes_abandon_with_delay_fail_without_making_a_copy()
    {
        await _transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), Message("slow"))], default);
        var received = Assert.Single(await ReceiveAsync("q"));
        _time.Advance(TimeSpan.FromSeconds(11)); // past the 10 s lock

        await Assert.ThrowsAsync<LeaseLostException>(() => received.AbandonAsync(TimeSpan.FromMinutes(1), default));

        var only = Assert.Single(_fake.MessagesIn("q"));
        Assert.False(only.Properties.ContainsKey(MessageHeaders.PriorAttempts));
    }

    [Fact]
    public async Task Dead_letter_goes_to_the_error_queue_with_failure_headers_and_a_message_is_settled_once()
    {
        await _transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), Message("poison"))], default);
        var received = Assert.Single(await ReceiveAsync("q"));

        await received.DeadLetterAsync(FailureDetails.From("no handler", null, 1, "q", _time.GetUtcNow()), default);

        var stored = Assert.Single(_fake.MessagesIn("q-error"));
        Assert.Equal("\"no handler\"", stored.Properties[MessageHeaders.FailureReason]);
        Assert.Empty(_fake.MessagesIn("q"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => received.CompleteAsync(default));
    }

    [Fact]
    public async Task Purge_removes_native_and_error_queue_dead_letters()
    {
        await _transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), Message("a")), new OutgoingMessage(Destination.Queue("q"), Message("b"))], default);
        var a = Assert.Single(await ReceiveAsync("q"));
        await a.DeadLetterAsync(FailureDetails.From("bad", null, 1, "q", _time.GetUtcNow()), default);
        for (var i = 0; i < 3; i++)
        {
            await Assert.Single(await ReceiveAsync("q")).AbandonAsync(TimeSpan.Zero, default);
        }

        Assert.Equal(2, (await _transport.DeadLetters.PeekAsync("q", 10, default)).Count);
        Assert.Equal(2, await _transport.DeadLetters.PurgeAsync("q", null, default));
        Assert.Empty(await _transport.DeadLetters.PeekAsync("q", 10, default));
    }

    [Fact]
    public async Task Native_dead_letters_are_listed_with_the_reason_and_redriven_with_their_identity()
    {
        await _transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        var sent = Message("crashes the process", ("tenant", "t-1"));
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), sent)], default);
        for (var i = 0; i < 3; i++)
        {
            var received = Assert.Single(await ReceiveAsync("q"));
            await received.AbandonAsync(TimeSpan.Zero, default); // plain unlock: the broker counts the delivery
        }

        Assert.Empty(await ReceiveAsync("q"));
        var dead = Assert.Single(await _transport.DeadLetters.PeekAsync("q", 10, default));
        Assert.Equal("MaxDeliveryCountExceeded", dead.Failure.Reason);
        Assert.Equal(sent.MessageId, dead.Message.MessageId);
        Assert.Equal("t-1", dead.Message.Headers["tenant"]);
        Assert.False(dead.Message.Headers.ContainsKey("DeadLetterReason"));
        Assert.Equal("q", dead.Failure.SourceQueue);

        Assert.Equal(1, await _transport.DeadLetters.RedriveAsync("q", [sent.MessageId!], default));

        var back = Assert.Single(await ReceiveAsync("q"));
        Assert.Equal(sent.MessageId, back.Message.MessageId);
        Assert.Equal(1, back.ReceiveCount);
        Assert.Empty(_fake.MessagesIn("q/$DeadLetterQueue"));
    }

    [Fact]
    public async Task Redrive_leaves_a_message_that_is_dead_lettered_anew_while_it_runs()
    {
        // A handler that fails the redriven message at once dead-letters it again before the scan of the error queue
        // is over; moving that copy too would go round for as long as the handler keeps failing.
        var failsAgain = new DeadLettersAgainAtOnce(_fake, "q", "q-error", times: 3);
        await using var transport = FakeTransports.Create(_fake, _time, o => o.HttpMessageHandler = failsAgain);
        await transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        var sent = Message("poison");
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), sent)], default);
        var received = Assert.Single(await FakeTransports.RunAsync(_time, transport.ReceiveAsync("q", 1, TimeSpan.FromSeconds(30), default).AsTask()));
        await received.DeadLetterAsync(FailureDetails.From("bad", null, 1, "q", _time.GetUtcNow()), default);
        failsAgain.Armed = true;

        var moved = await transport.DeadLetters.RedriveAsync("q", null, default);

        Assert.Equal(1, moved);
        Assert.Equal(sent.MessageId, Assert.Single(_fake.MessagesIn("q")).MessageId);
        Assert.Equal(sent.MessageId, Assert.Single(_fake.MessagesIn("q-error")).MessageId); // the new dead letter stays
    }

    [Fact]
    public async Task Peeking_dead_letters_leaves_them_in_place()
    {
        await _transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), Message("x"))], default);
        var received = Assert.Single(await ReceiveAsync("q"));
        await received.DeadLetterAsync(FailureDetails.From("bad", null, 1, "q", _time.GetUtcNow()), default);

        for (var i = 0; i < 20; i++)
        {
            Assert.Single(await _transport.DeadLetters.PeekAsync("q", 10, default));
        }

        Assert.Single(_fake.MessagesIn("q-error"));
        Assert.Empty(_fake.MessagesIn("q-error/$DeadLetterQueue"));
    }

    [Fact]
    public async Task Dead_letters_of_an_unknown_queue_are_empty()
    {
        Assert.Empty(await _transport.DeadLetters.PeekAsync("never-provisioned", 10, default));
        Assert.Equal(0, await _transport.DeadLetters.PurgeAsync("never-provisioned", null, default));
    }

    [Fact]
    public async Task Settling_after_the_entity_was_deleted_is_a_clear_error()
    {
        await _transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), Message("x"))], default);
        var received = Assert.Single(await ReceiveAsync("q"));
        _fake.Delete("q");

        var error = await Assert.ThrowsAsync<ServiceBusRequestException>(() => received.CompleteAsync(default));

        Assert.Equal(HttpStatusCode.Gone, error.StatusCode);
        Assert.Contains("no longer exists", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sending_to_a_missing_queue_names_it()
    {
        var error = await Assert.ThrowsAsync<ServiceBusRequestException>(() =>
            _transport.SendAsync([new OutgoingMessage(Destination.Queue("ghost"), Message("x"))], default));

        Assert.Equal(HttpStatusCode.NotFound, error.StatusCode);
        Assert.Contains("'ghost'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Throttling_and_server_errors_are_retried_with_back_off_on_the_clock()
    {
        await _transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        _fake.InjectedFailures.Enqueue(HttpStatusCode.TooManyRequests);
        _fake.InjectedFailures.Enqueue(HttpStatusCode.ServiceUnavailable);
        _fake.InjectedFailures.Enqueue(HttpStatusCode.InternalServerError);
        var start = _time.GetUtcNow();

        await FakeTransports.RunAsync(_time, _transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), Message("x"))], default));

        Assert.Single(_fake.MessagesIn("q"));
        Assert.True(_time.GetUtcNow() - start >= TimeSpan.FromSeconds(1), "waited at least the Retry-After of the 429");
    }

    [Fact]
    public async Task Persistent_throttling_fails_after_the_configured_retries()
    {
        await using var transport = FakeTransports.Create(_fake, _time, o => o.MaxRetries = 2);
        await transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        for (var i = 0; i < 3; i++)
        {
            _fake.InjectedFailures.Enqueue(HttpStatusCode.ServiceUnavailable);
        }

        var error = await Assert.ThrowsAsync<ServiceBusRequestException>(() =>
            FakeTransports.RunAsync(_time, transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), Message("x"))], default)));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, error.StatusCode);
        Assert.Empty(_fake.MessagesIn("q"));
    }

    [Fact]
    public void Capabilities_describe_a_fixed_lease_of_the_lock_duration()
    {
        var capabilities = _transport.Capabilities;

        Assert.True(capabilities.LeaseDurationIsFixed);
        Assert.Equal(TimeSpan.FromSeconds(10), capabilities.MaxLeaseDuration);
        Assert.True(capabilities.MaxDelay >= TimeSpan.FromDays(30));
        Assert.True(capabilities.NativeDeadLetter);
        Assert.Equal(256 * 1024, capabilities.MaxMessageSize);
    }

    /// <summary>The queues and topic of endpoint "orders" subscribed to "evt", with a subscription made by someone else
    /// that forwards to <paramref name="forwardTo"/> (a queue it creates) or nowhere.</summary>
    private async Task SeedTopologyWithForeignSubscriptionAsync(
        string? forwardTo, bool requiresSession = false, TimeSpan? lockDuration = null, int maxDeliveryCount = 3)
    {
        await _transport.ProvisionAsync(new TransportTopology("orders", ["evt"], []), default);
        var subscription = EntityDescriptions.Subscription(lockDuration ?? TimeSpan.FromSeconds(10), maxDeliveryCount, $"https://{FakeServiceBus.Host}/{forwardTo}")
            .Replace("<RequiresSession>false</RequiresSession>", $"<RequiresSession>{(requiresSession ? "true" : "false")}</RequiresSession>", StringComparison.Ordinal);
        using var http = new HttpClient(_fake, disposeHandler: false);
        var sas = new Authentication.SasTokenProvider(FakeServiceBus.KeyName, FakeServiceBus.Key, new Uri($"https://{FakeServiceBus.Host}/"), _time);
        async Task PutAsync(string path, string atom)
        {
            var request = new HttpRequestMessage(HttpMethod.Put, $"https://{FakeServiceBus.Host}/{path}?api-version=2021-05")
            {
                Content = new StringContent(atom, Encoding.UTF8, "application/atom+xml"),
            };
            request.Headers.TryAddWithoutValidation("Authorization", sas.GetToken($"https://{FakeServiceBus.Host}/"));
            if (forwardTo is not null)
            {
                request.Headers.TryAddWithoutValidation("ServiceBusSupplementaryAuthorization", sas.GetToken($"https://{FakeServiceBus.Host}/{forwardTo}"));
            }

            Assert.Equal(HttpStatusCode.Created, (await http.SendAsync(request)).StatusCode);
        }

        if (forwardTo is null)
        {
            subscription = Regex.Replace(subscription, "<ForwardTo>[^<]*</ForwardTo>", "");
        }
        else
        {
            await PutAsync(forwardTo, EntityDescriptions.Queue(TimeSpan.FromSeconds(10), 3));
        }

        await PutAsync("evt/Subscriptions/orders", subscription);
    }

    /// <summary>Makes the existing queue <paramref name="path"/> forward to <paramref name="forwardTo"/> (created first),
    /// as someone editing it by hand would.</summary>
    private async Task PutWithForwardAsync(string path, string queueDescription, string forwardTo)
    {
        var namespaceUri = new Uri($"https://{FakeServiceBus.Host}/");
        using var client = new Rest.HttpServiceBusRestClient(
            new HttpClient(_fake, disposeHandler: false), namespaceUri,
            new Authentication.SasTokenProvider(FakeServiceBus.KeyName, FakeServiceBus.Key, namespaceUri, _time), _time, 0, TimeSpan.FromSeconds(1), 256 * 1024);
        await client.CreateEntityAsync(forwardTo, EntityDescriptions.Queue(TimeSpan.FromSeconds(10), 3), default);
        await client.UpdateEntityAsync(
            path, queueDescription.Replace("</QueueDescription>", $"<ForwardTo>{namespaceUri}{forwardTo}</ForwardTo></QueueDescription>", StringComparison.Ordinal), default);
    }

    private Task<IReadOnlyList<IReceivedMessage>> ReceiveAsync(string queue) =>
        FakeTransports.RunAsync(_time, _transport.ReceiveAsync(queue, 1, TimeSpan.FromSeconds(30), default).AsTask());

    /// <summary>Once armed, copies each of up to <paramref name="times"/> messages sent to <paramref name="queue"/> into
    /// <paramref name="errorQueue"/> right away, as a handler that fails it at once would.</summary>
    private sealed class DeadLettersAgainAtOnce(HttpMessageHandler inner, string queue, string errorQueue, int times) : DelegatingHandler(inner)
    {
        private int _left = times;

        public bool Armed { get; set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (Armed && request.Method == HttpMethod.Post && request.RequestUri!.AbsolutePath == $"/{queue}/messages" &&
                response.IsSuccessStatusCode && Interlocked.Decrement(ref _left) >= 0)
            {
                using var copy = new HttpRequestMessage(HttpMethod.Post, new Uri(request.RequestUri, $"/{errorQueue}/messages"))
                {
                    Content = new ByteArrayContent(await request.Content!.ReadAsByteArrayAsync(cancellationToken)),
                };
                copy.Content.Headers.ContentType = request.Content.Headers.ContentType;
                foreach (var (name, values) in request.Headers)
                {
                    copy.Headers.TryAddWithoutValidation(name, values);
                }

                using var copied = await base.SendAsync(copy, cancellationToken);
                Assert.True(copied.IsSuccessStatusCode);
            }

            return response;
        }
    }

    private static TransportMessage Message(string body, params (string Name, string Value)[] headers)
    {
        var all = Headers();
        foreach (var (name, value) in headers)
        {
            all[name] = value;
        }

        return new TransportMessage(all, Encoding.UTF8.GetBytes(body));
    }

    private static Dictionary<string, string> Headers() => new() { [MessageHeaders.MessageId] = Guid.NewGuid().ToString() };
}

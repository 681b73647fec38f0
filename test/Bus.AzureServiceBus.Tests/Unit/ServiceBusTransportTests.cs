using System.Text;
using Azure.Messaging.ServiceBus.Administration;
using Bus.AzureServiceBus.Tests.Fake;
using Bus.Testing;
using Bus.Transports;

namespace Bus.AzureServiceBus.Tests.Unit;

/// <summary>The transport on the fake namespace: regressions of the REST adapter, dead-letter paging and redrive, size
/// limits, tiers.</summary>
public sealed class ServiceBusTransportTests : IAsyncDisposable
{
    private readonly ManualTimeProvider _time = new();
    private readonly List<ServiceBusTransport> _transports = [];

    public async ValueTask DisposeAsync()
    {
        foreach (var transport in _transports)
        {
            await transport.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_20_KB_failure_description_dead_letters_with_its_reason()
    {
        var (fake, transport) = Create();
        await transport.ProvisionAsync(new TransportTopology("orders", [], []), default);
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("orders"), Message("poison"))], default);
        var received = await ReceiveAsync(transport, "orders");
        var description = new string('d', 20 * 1024);

        await received.DeadLetterAsync(FailureDetails.From("Handler failed", new InvalidOperationException(description), 3, "orders", _time.GetUtcNow()), default);

        var dead = Assert.Single(await transport.DeadLetters.PeekAsync("orders", 10, default));
        Assert.Equal("Handler failed", dead.Failure.Reason);
        Assert.Equal(description, dead.Failure.ExceptionMessage);
        Assert.Equal("Handler failed", Assert.Single(fake.MessagesIn("orders", deadLetters: true)).Properties["DeadLetterReason"]);
    }

    [Fact]
    public async Task Failure_details_that_would_not_fit_are_trimmed_and_the_reason_always_lands()
    {
        var (fake, transport) = Create();
        await transport.ProvisionAsync(new TransportTopology("orders", [], []), default);
        var body = new byte[250 * 1024]; // close to the 256 KB limit: no room for a stack trace or a long message
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("orders"), new TransportMessage(Headers(), body))], default);
        var received = await ReceiveAsync(transport, "orders");
        var exception = new InvalidOperationException(new string('m', 30 * 1024));

        await received.DeadLetterAsync(FailureDetails.From("Attempts exhausted (5 of 5)", Thrown(exception), 5, "orders", _time.GetUtcNow()), default);

        var dead = Assert.Single(await transport.DeadLetters.PeekAsync("orders", 10, default));
        Assert.Equal("Attempts exhausted (5 of 5)", dead.Failure.Reason);
        Assert.Null(dead.Failure.StackTrace); // the stack trace gave way first ...
        Assert.True(dead.Failure.ExceptionMessage is null || dead.Failure.ExceptionMessage.Length < exception.Message.Length); // ... then the message
        Assert.Equal(body.Length, dead.Message.Body.Length);
        Assert.Single(fake.MessagesIn("orders", deadLetters: true));
    }

    [Fact]
    public async Task Non_ascii_property_values_round_trip_through_send_and_dead_letter()
    {
        var (_, transport) = Create();
        await transport.ProvisionAsync(new TransportTopology("orders", [], []), default);
        const string value = "Grüße, 日本語, émoji 🎉, Ωμέγα";
        var sent = Message("x", ("customer-name", value));
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("orders"), sent)], default);

        var received = await ReceiveAsync(transport, "orders");
        Assert.Equal(value, received.Message.Headers["customer-name"]);
        await received.DeadLetterAsync(FailureDetails.From("Ungültige Bestellung ✗", new InvalidOperationException("Fehler: ü"), 1, "orders", _time.GetUtcNow()), default);

        var dead = Assert.Single(await transport.DeadLetters.PeekAsync("orders", 10, default));
        Assert.Equal(value, dead.Message.Headers["customer-name"]);
        Assert.Equal("Ungültige Bestellung ✗", dead.Failure.Reason);
        Assert.Equal("Fehler: ü", dead.Failure.ExceptionMessage);
    }

    [Fact]
    public async Task Duplicate_detection_on_the_queue_does_not_drop_retries_releases_or_redrives()
    {
        var (fake, transport) = Create();
        await DuplicateDetectingQueueAsync(fake, "orders");
        await transport.ProvisionAsync(new TransportTopology("orders", [], []), default);
        var sent = Message("job");
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("orders"), sent)], default);
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("orders"), sent)], default); // a true resend: dropped
        Assert.Equal(1, fake.DuplicatesDropped);

        var first = await ReceiveAsync(transport, "orders");
        await first.AbandonAsync(TimeSpan.FromSeconds(5), default); // delayed retry: a copy
        var second = await ReceiveAsync(transport, "orders");
        Assert.Equal((sent.MessageId, 2), (second.Message.MessageId, second.ReceiveCount));
        await second.ReleaseAsync(TimeSpan.Zero, default); // release: a copy
        var third = await ReceiveAsync(transport, "orders");
        Assert.Equal((sent.MessageId, 2), (third.Message.MessageId, third.ReceiveCount));
        await third.DeadLetterAsync(FailureDetails.From("failed", null, 2, "orders", _time.GetUtcNow()), default);
        Assert.Equal(1, await transport.DeadLetters.RedriveAsync("orders", null, default)); // redrive: a copy
        var fourth = await ReceiveAsync(transport, "orders");

        Assert.Equal((sent.MessageId, 1), (fourth.Message.MessageId, fourth.ReceiveCount));
        Assert.Equal(1, fake.DuplicatesDropped);
        await fourth.CompleteAsync(default);
    }

    [Fact]
    public async Task A_redrive_repeated_after_a_crash_between_send_and_complete_does_not_double_the_message()
    {
        var (fake, transport) = Create();
        await DuplicateDetectingQueueAsync(fake, "orders");
        await transport.ProvisionAsync(new TransportTopology("orders", [], []), default);
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("orders"), Message("job"))], default);
        var received = await ReceiveAsync(transport, "orders");
        await received.DeadLetterAsync(FailureDetails.From("failed", null, 1, "orders", _time.GetUtcNow()), default);
        var crash = true;
        fake.BeforeOperation = (operation, _) =>
        {
            if (operation == "Complete" && crash)
            {
                crash = false;
                throw new IOException("connection dropped");
            }
        };

        await Assert.ThrowsAsync<IOException>(() => transport.DeadLetters.RedriveAsync("orders", null, default));
        Assert.Single(fake.MessagesIn("orders")); // the copy went out, the dead letter stayed
        _time.Advance(TimeSpan.FromSeconds(11)); // its lock runs out
        Assert.Equal(1, await transport.DeadLetters.RedriveAsync("orders", null, default));

        Assert.Single(fake.MessagesIn("orders")); // the second copy was a duplicate
        Assert.Empty(fake.MessagesIn("orders", deadLetters: true));
    }

    [Fact]
    public async Task Peek_pages_through_the_dead_letter_sub_queue_without_locking_or_counting_a_delivery()
    {
        var (fake, transport) = Create();
        await transport.ProvisionAsync(new TransportTopology("orders", [], []), default);
        var messages = Enumerable.Range(0, 150).Select(i => Message($"m{i}")).ToList();
        await transport.SendAsync(messages.Select(m => new OutgoingMessage(Destination.Queue("orders"), m)).ToList(), default);
        for (var i = 0; i < 150; i++)
        {
            await (await ReceiveAsync(transport, "orders")).DeadLetterAsync(FailureDetails.From("failed", null, 1, "orders", _time.GetUtcNow()), default);
        }

        var page = await transport.DeadLetters.PeekAsync("orders", 120, default);
        var all = await transport.DeadLetters.PeekAsync("orders", 1000, default);

        Assert.Equal(messages.Take(120).Select(m => m.MessageId), page.Select(d => d.Message.MessageId));
        Assert.Equal(150, all.Count);
        Assert.All(fake.MessagesIn("orders", deadLetters: true), m => Assert.Null(m.LockToken));
        Assert.Equal(1, await transport.DeadLetters.PurgeAsync("orders", [messages[3].MessageId!], default));
        Assert.Equal(149, await transport.DeadLetters.PurgeAsync("orders", null, default));
        Assert.Empty(await transport.DeadLetters.PeekAsync("orders", 10, default));
    }

    [Fact]
    public async Task A_message_over_1_MB_is_accepted_on_premium_and_the_limit_comes_from_the_entity()
    {
        var (fake, transport) = Create(MessagingSku.Premium, o => o.MaxMessageSizeInKilobytes = 4096);
        await transport.ProvisionAsync(new TransportTopology("media", [], []), default);
        var body = new byte[1536 * 1024];

        await transport.SendAsync([new OutgoingMessage(Destination.Queue("media"), new TransportMessage(Headers(), body))], default);

        Assert.Equal(4096, fake.QueueSettingsOf("media")!.MaxMessageSizeInKilobytes);
        Assert.Equal(body.Length, (await ReceiveAsync(transport, "media")).Message.Body.Length);
        var tooBig = await Assert.ThrowsAsync<MessageTooLargeException>(() =>
            transport.SendAsync([new OutgoingMessage(Destination.Queue("media"), new TransportMessage(Headers(), new byte[4097 * 1024]))], default));
        Assert.Equal(4096 * 1024, tooBig.Limit);
    }

    [Fact]
    public async Task The_size_limit_of_an_entity_made_elsewhere_is_read_from_it()
    {
        var fake = new FakeServiceBus(_time, MessagingSku.Premium);
        await new FakeServiceBusAdministrationClient(fake).CreateQueueAsync(new CreateQueueOptions("big") { MaxMessageSizeInKilobytes = 2048 });
        var (_, transport) = Create(fake); // configured for 256 KB, but the queue says 2 MB

        await transport.SendAsync([new OutgoingMessage(Destination.Queue("big"), new TransportMessage(Headers(), new byte[1024 * 1024]))], default);

        Assert.Single(fake.MessagesIn("big"));
    }

    [Fact]
    public async Task Basic_tier_is_refused_when_strict_and_works_without_transactions_otherwise()
    {
        var strict = Create(MessagingSku.Basic).Transport;
        var refused = await Assert.ThrowsAsync<BusConfigurationException>(() => strict.ProvisionAsync(new TransportTopology("orders", [], []), default));
        Assert.Contains("no transactions", refused.Message, StringComparison.Ordinal);
        Assert.Contains("bus.Strict = false", refused.Message, StringComparison.Ordinal);

        var (fake, lenient) = Create(MessagingSku.Basic, o => o.Strict = false);
        await lenient.ProvisionAsync(new TransportTopology("orders", [], []), default);
        await lenient.SendAsync([new OutgoingMessage(Destination.Queue("orders"), Message("x"))], default);
        await (await ReceiveAsync(lenient, "orders")).AbandonAsync(TimeSpan.FromSeconds(5), default);
        Assert.Equal(2, (await ReceiveAsync(lenient, "orders")).ReceiveCount);
        Assert.Equal(ServiceBusTier.Basic, lenient.Tier);
        Assert.NotNull(fake.QueueSettingsOf("orders"));
        var noTopics = await Assert.ThrowsAsync<BusConfigurationException>(() => lenient.ProvisionAsync(new TransportTopology("orders", ["evt"], []), default));
        Assert.Contains("no topics", noTopics.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sending_to_a_missing_queue_names_it_and_says_what_to_do()
    {
        var (_, transport) = Create();

        var error = await Assert.ThrowsAsync<Azure.Messaging.ServiceBus.ServiceBusException>(() =>
            transport.SendAsync([new OutgoingMessage(Destination.Queue("nowhere"), Message("x"))], default));

        Assert.Contains("'nowhere' does not exist", error.Message, StringComparison.Ordinal);
        Assert.Contains("EntityPrefix", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_priority_queue_is_provisioned_like_the_queue_and_verify_only_requires_it()
    {
        var fake = new FakeServiceBus(_time);
        var (_, verifier) = Create(fake, o =>
        {
            o.PriorityQueue = true;
            o.ProvisioningMode = ProvisioningMode.VerifyOnly;
        });
        var error = await Assert.ThrowsAsync<BusConfigurationException>(() => verifier.ProvisionAsync(new TransportTopology("orders", [], []), default));
        Assert.Contains("queue 'orders-priority'", error.Message);

        var (_, transport) = Create(fake, o => o.PriorityQueue = true);
        await transport.ProvisionAsync(new TransportTopology("orders", [], []), default);

        Assert.Equal(fake.QueueSettingsOf("orders")!.LockDuration, fake.QueueSettingsOf("orders-priority")!.LockDuration);
        Assert.Equal(fake.QueueSettingsOf("orders")!.MaxDeliveryCount, fake.QueueSettingsOf("orders-priority")!.MaxDeliveryCount);
        await verifier.ProvisionAsync(new TransportTopology("orders", [], []), default);
        Assert.Equal(PriorityOrdering.PriorityQueue, transport.Capabilities.PriorityOrdering);
    }

    [Fact]
    public async Task An_endpoint_named_like_another_endpoints_priority_queue_is_refused_before_anything_is_made()
    {
        var (fake, transport) = Create();

        var error = await Assert.ThrowsAsync<BusConfigurationException>(() => transport.ProvisionAsync(new TransportTopology("orders-priority", [], []), default));

        Assert.Contains("'orders-priority' ends with '-priority'", error.Message);
        Assert.Contains("endpoint 'orders'", error.Message);
        Assert.Null(fake.QueueSettingsOf("orders-priority"));
    }

    [Fact]
    public async Task Without_priority_queues_none_is_made_and_the_transport_declares_no_priority_ordering()
    {
        var (fake, transport) = Create();
        await transport.ProvisionAsync(new TransportTopology("orders", [], []), default);

        Assert.Null(fake.QueueSettingsOf("orders-priority"));
        Assert.Equal(PriorityOrdering.None, transport.Capabilities.PriorityOrdering);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => FakeTransports.Options(_time, o => o.PriorityRatio = 101).Validate());
        Assert.Contains("ServiceBusTransportOptions.PriorityRatio must be 1 to 100", error.Message);
    }

    [Fact]
    public async Task Dead_letters_of_both_queues_are_listed_in_pages_redriven_to_their_own_queue_and_counted_together()
    {
        var (fake, transport) = Create(configure: o => o.PriorityQueue = true);
        await transport.ProvisionAsync(new TransportTopology("orders", [], []), default);
        await transport.SendAsync(
        [
            new OutgoingMessage(Destination.Queue("orders"), Message("normal-1")),
            new OutgoingMessage(Destination.Queue("orders"), Message("normal-2")),
            new OutgoingMessage(Destination.Queue("orders"), Message("urgent", (MessageHeaders.Priority, "5"))),
        ], default);
        for (var i = 0; i < 3; i++)
        {
            var received = await ReceiveAsync(transport, "orders");
            await received.DeadLetterAsync(FailureDetails.From("failed", null, 1, "orders", _time.GetUtcNow()), default);
        }

        Assert.Single(fake.MessagesIn("orders-priority", deadLetters: true));
        Assert.Equal(3, (await transport.DeadLetters.PeekAsync("orders", 10, default)).Count);
        var first = await transport.DeadLetters.ListAsync("orders", new DeadLetterQuery { PageSize = 2 }, default);
        var second = await transport.DeadLetters.ListAsync("orders", new DeadLetterQuery { PageSize = 2, ContinuationToken = first.ContinuationToken }, default);
        Assert.Equal(2, first.Items.Count);
        Assert.Single(second.Items);
        Assert.Null(second.ContinuationToken);
        Assert.Equal(["normal-1", "normal-2", "urgent"], first.Items.Concat(second.Items).Select(d => Encoding.UTF8.GetString(d.Message.Body.Span)).Order());
        var statistics = await transport.Statistics!.GetAsync("orders", default);
        Assert.Equal(3, statistics.DeadLettered);
        Assert.Equal(["orders"], await transport.Statistics.ListQueuesAsync(default));

        Assert.Equal(3, await transport.DeadLetters.RedriveAsync("orders", null, default));

        Assert.Single(fake.MessagesIn("orders-priority"));
        Assert.Equal(2, fake.MessagesIn("orders").Count);
        Assert.Equal(3, (await transport.Statistics.GetAsync("orders", default)).Ready);
    }

    private (FakeServiceBus Fake, ServiceBusTransport Transport) Create(MessagingSku? sku = null, Action<ServiceBusTransportOptions>? configure = null) =>
        Create(new FakeServiceBus(_time, sku), configure);

    private (FakeServiceBus Fake, ServiceBusTransport Transport) Create(FakeServiceBus fake, Action<ServiceBusTransportOptions>? configure = null)
    {
        var transport = FakeTransports.Create(fake, _time, configure);
        _transports.Add(transport);
        return (fake, transport);
    }

    private static Task DuplicateDetectingQueueAsync(FakeServiceBus fake, string name) =>
        new FakeServiceBusAdministrationClient(fake).CreateQueueAsync(new CreateQueueOptions(name)
        {
            LockDuration = TimeSpan.FromSeconds(10),
            RequiresDuplicateDetection = true,
            DuplicateDetectionHistoryTimeWindow = TimeSpan.FromHours(1),
        });

    private async Task<IReceivedMessage> ReceiveAsync(ServiceBusTransport transport, string queue)
    {
        for (var i = 0; i < 30; i++)
        {
            var received = await FakeTransports.RunAsync(_time, transport.ReceiveAsync(queue, 1, TimeSpan.FromSeconds(10), default).AsTask());
            if (received.Count > 0)
            {
                return received[0];
            }
        }

        throw new TimeoutException($"Nothing arrived in '{queue}'.");
    }

    private static Exception Thrown(Exception exception)
    {
        try
        {
            throw exception;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    private static TransportMessage Message(string body, params (string Name, string Value)[] headers) =>
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
}

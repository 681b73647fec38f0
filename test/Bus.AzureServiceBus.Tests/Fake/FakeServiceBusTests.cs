using System.Transactions;
using Azure.Messaging.ServiceBus;
using Azure.Messaging.ServiceBus.Administration;
using Bus.Testing;

namespace Bus.AzureServiceBus.Tests.Fake;

/// <summary>The fake namespace's own behaviours, through the SDK types the transport uses.</summary>
public sealed class FakeServiceBusTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly FakeServiceBus _fake;
    private readonly FakeServiceBusClient _client;
    private readonly FakeServiceBusAdministrationClient _admin;

    public FakeServiceBusTests()
    {
        _fake = new FakeServiceBus(_time);
        _client = new FakeServiceBusClient(_fake);
        _admin = new FakeServiceBusAdministrationClient(_fake);
    }

    [Fact]
    public async Task Receive_locks_with_a_token_a_lock_until_and_a_delivery_count_and_an_expired_lock_is_lost()
    {
        await QueueAsync("q", maxDeliveryCount: 5);
        await _client.CreateSender("q").SendMessageAsync(new ServiceBusMessage("a") { MessageId = "m1" });
        var receiver = _client.CreateReceiver("q");

        var first = Assert.Single(await receiver.ReceiveMessagesAsync(10, TimeSpan.FromSeconds(1)));
        Assert.Equal(1, first.DeliveryCount);
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(10), first.LockedUntil);
        Assert.NotEqual(Guid.Empty.ToString(), first.LockToken);
        Assert.Empty(await receiver.ReceiveMessagesAsync(10, TimeSpan.Zero)); // locked

        _time.Advance(TimeSpan.FromSeconds(10));
        var second = Assert.Single(await receiver.ReceiveMessagesAsync(10, TimeSpan.Zero));

        Assert.Equal(2, second.DeliveryCount);
        Assert.Equal(ServiceBusFailureReason.MessageLockLost,
            (await Assert.ThrowsAsync<ServiceBusException>(() => receiver.CompleteMessageAsync(first))).Reason);
        await receiver.CompleteMessageAsync(second);
        Assert.Empty(_fake.MessagesIn("q"));
    }

    [Fact]
    public async Task Renewal_moves_lock_until_on_the_message()
    {
        await QueueAsync("q");
        await _client.CreateSender("q").SendMessageAsync(new ServiceBusMessage("a"));
        var receiver = _client.CreateReceiver("q");
        var received = Assert.Single(await receiver.ReceiveMessagesAsync(1, TimeSpan.Zero));

        _time.Advance(TimeSpan.FromSeconds(8));
        await receiver.RenewMessageLockAsync(received);

        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(10), received.LockedUntil);
        _time.Advance(TimeSpan.FromSeconds(8));
        await receiver.CompleteMessageAsync(received); // still held
    }

    [Fact]
    public async Task Max_delivery_count_moves_the_message_to_the_dead_letter_sub_queue_with_the_reason()
    {
        await QueueAsync("q", maxDeliveryCount: 2);
        await _client.CreateSender("q").SendMessageAsync(new ServiceBusMessage("a") { ApplicationProperties = { ["tenant"] = "t-1" } });
        var receiver = _client.CreateReceiver("q");

        await receiver.AbandonMessageAsync(Assert.Single(await receiver.ReceiveMessagesAsync(1, TimeSpan.Zero)));
        await receiver.AbandonMessageAsync(Assert.Single(await receiver.ReceiveMessagesAsync(1, TimeSpan.Zero)));

        Assert.Empty(await receiver.ReceiveMessagesAsync(1, TimeSpan.Zero));
        var dead = Assert.Single(await _client.CreateReceiver("q", new ServiceBusReceiverOptions { SubQueue = SubQueue.DeadLetter }).PeekMessagesAsync(10));
        Assert.Equal("MaxDeliveryCountExceeded", dead.DeadLetterReason);
        Assert.Equal("t-1", dead.ApplicationProperties["tenant"]);
    }

    [Fact]
    public async Task Dead_letter_keeps_the_message_with_reason_description_and_properties()
    {
        await QueueAsync("q");
        await _client.CreateSender("q").SendMessageAsync(new ServiceBusMessage("a"));
        var receiver = _client.CreateReceiver("q");
        var received = Assert.Single(await receiver.ReceiveMessagesAsync(1, TimeSpan.Zero));

        await receiver.DeadLetterMessageAsync(received, new Dictionary<string, object> { ["why"] = "because" }, "reason", "description");

        var dlq = _client.CreateReceiver("q", new ServiceBusReceiverOptions { SubQueue = SubQueue.DeadLetter });
        var dead = Assert.Single(await dlq.ReceiveMessagesAsync(1, TimeSpan.Zero));
        Assert.Equal(("reason", "description", "because"), (dead.DeadLetterReason, dead.DeadLetterErrorDescription, (string)dead.ApplicationProperties["why"]));
        await dlq.CompleteMessageAsync(dead);
        Assert.Empty(_fake.MessagesIn("q", deadLetters: true));
    }

    [Fact]
    public async Task Scheduled_message_is_invisible_until_its_time_and_a_waiting_receive_gets_it_then()
    {
        await QueueAsync("q");
        await _client.CreateSender("q").SendMessageAsync(new ServiceBusMessage("later") { ScheduledEnqueueTime = _time.GetUtcNow().AddSeconds(30) });
        var receiver = _client.CreateReceiver("q");

        var waiting = receiver.ReceiveMessagesAsync(1, TimeSpan.FromMinutes(1));
        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.False(waiting.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal("later", Assert.Single(await waiting.WaitAsync(TimeSpan.FromSeconds(10))).Body.ToString());
    }

    [Fact]
    public async Task Operations_in_a_transaction_apply_together_on_commit_and_not_at_all_on_rollback()
    {
        await QueueAsync("q");
        var sender = _client.CreateSender("q");
        await sender.SendMessageAsync(new ServiceBusMessage("original"));
        var receiver = _client.CreateReceiver("q");
        var received = Assert.Single(await receiver.ReceiveMessagesAsync(1, TimeSpan.Zero));

        using (new TransactionScope(TransactionScopeAsyncFlowOption.Enabled))
        {
            await sender.SendMessageAsync(new ServiceBusMessage("copy"));
            await receiver.CompleteMessageAsync(received);
            Assert.Single(_fake.MessagesIn("q")); // nothing applied before the commit
        } // no Complete: rolled back

        Assert.Equal("original", Assert.Single(_fake.MessagesIn("q")).Body.ToString());

        using (var scope = new TransactionScope(TransactionScopeAsyncFlowOption.Enabled))
        {
            await sender.SendMessageAsync(new ServiceBusMessage("copy"));
            await receiver.CompleteMessageAsync(received);
            scope.Complete();
        }

        Assert.Equal("copy", Assert.Single(_fake.MessagesIn("q")).Body.ToString());
    }

    [Fact]
    public async Task A_transaction_whose_lock_expired_before_commit_applies_nothing()
    {
        await QueueAsync("q");
        var sender = _client.CreateSender("q");
        await sender.SendMessageAsync(new ServiceBusMessage("original"));
        var receiver = _client.CreateReceiver("q");
        var received = Assert.Single(await receiver.ReceiveMessagesAsync(1, TimeSpan.Zero));

        Assert.Throws<TransactionAbortedException>(() =>
        {
            using var scope = new TransactionScope(TransactionScopeAsyncFlowOption.Enabled);
            sender.SendMessageAsync(new ServiceBusMessage("copy")).GetAwaiter().GetResult();
            receiver.CompleteMessageAsync(received).GetAwaiter().GetResult();
            _time.Advance(TimeSpan.FromSeconds(11));
            scope.Complete();
        });

        Assert.Equal("original", Assert.Single(_fake.MessagesIn("q")).Body.ToString());
    }

    [Fact]
    public async Task Basic_tier_refuses_transactions_and_topics()
    {
        var basic = new FakeServiceBus(_time, MessagingSku.Basic);
        var admin = new FakeServiceBusAdministrationClient(basic);
        await admin.CreateQueueAsync(new CreateQueueOptions("q"));
        var sender = new FakeServiceBusClient(basic).CreateSender("q");

        using (new TransactionScope(TransactionScopeAsyncFlowOption.Enabled))
        {
            await Assert.ThrowsAsync<ServiceBusException>(() => sender.SendMessageAsync(new ServiceBusMessage("x")));
        }

        await Assert.ThrowsAsync<ServiceBusException>(() => admin.CreateTopicAsync(new CreateTopicOptions("t")));
        Assert.Equal(MessagingSku.Basic, (await admin.GetNamespacePropertiesAsync()).Value.MessagingSku);
    }

    [Fact]
    public async Task Duplicate_detection_drops_a_repeated_message_id_within_the_window()
    {
        await _admin.CreateQueueAsync(new CreateQueueOptions("q")
        {
            RequiresDuplicateDetection = true,
            DuplicateDetectionHistoryTimeWindow = TimeSpan.FromMinutes(10),
        });
        var sender = _client.CreateSender("q");

        await sender.SendMessageAsync(new ServiceBusMessage("a") { MessageId = "same" });
        await sender.SendMessageAsync(new ServiceBusMessage("b") { MessageId = "same" });
        await sender.SendMessageAsync(new ServiceBusMessage("c") { MessageId = "other" });
        _time.Advance(TimeSpan.FromMinutes(11));
        await sender.SendMessageAsync(new ServiceBusMessage("d") { MessageId = "same" });

        Assert.Equal(["a", "c", "d"], _fake.MessagesIn("q").Select(m => m.Body.ToString()));
        Assert.Equal(1, _fake.DuplicatesDropped);
    }

    [Fact]
    public async Task Topic_subscriptions_forward_into_their_queues_and_report_the_full_address()
    {
        await QueueAsync("a");
        await QueueAsync("b");
        await _admin.CreateTopicAsync(new CreateTopicOptions("t"));
        await _admin.CreateSubscriptionAsync(new CreateSubscriptionOptions("t", "a") { ForwardTo = "a" });
        var b = (await _admin.CreateSubscriptionAsync(new CreateSubscriptionOptions("t", "b") { ForwardTo = "b" })).Value;

        await _client.CreateSender("t").SendMessageAsync(new ServiceBusMessage("event"));

        Assert.Single(_fake.MessagesIn("a"));
        Assert.Single(_fake.MessagesIn("b"));
        Assert.Equal($"sb://{FakeServiceBus.Namespace}/b", b.ForwardTo);
    }

    [Fact]
    public async Task Size_limits_are_the_entity_the_property_and_the_header_limits()
    {
        await QueueAsync("q");
        var sender = _client.CreateSender("q");

        Assert.Equal(ServiceBusFailureReason.MessageSizeExceeded, (await Assert.ThrowsAsync<ServiceBusException>(() =>
            sender.SendMessageAsync(new ServiceBusMessage(new byte[257 * 1024])))).Reason);
        Assert.Equal(ServiceBusFailureReason.MessageSizeExceeded, (await Assert.ThrowsAsync<ServiceBusException>(() =>
            sender.SendMessageAsync(new ServiceBusMessage("x") { ApplicationProperties = { ["big"] = new string('x', 33 * 1024) } }))).Reason);
        Assert.Equal(ServiceBusFailureReason.MessageSizeExceeded, (await Assert.ThrowsAsync<ServiceBusException>(() =>
            sender.SendMessageAsync(new ServiceBusMessage("x")
            {
                ApplicationProperties = { ["a"] = new string('x', 30 * 1024), ["b"] = new string('x', 30 * 1024), ["c"] = new string('x', 30 * 1024) },
            }))).Reason);
        Assert.Empty(_fake.MessagesIn("q"));
        Assert.Equal(256, (await _admin.GetQueueAsync("q")).Value.MaxMessageSizeInKilobytes);
    }

    [Fact]
    public async Task Missing_entities_are_not_found_and_existing_ones_already_exist()
    {
        Assert.Equal(ServiceBusFailureReason.MessagingEntityNotFound,
            (await Assert.ThrowsAsync<ServiceBusException>(() => _admin.GetQueueAsync("nope"))).Reason);
        Assert.Equal(ServiceBusFailureReason.MessagingEntityNotFound,
            (await Assert.ThrowsAsync<ServiceBusException>(() => _client.CreateSender("nope").SendMessageAsync(new ServiceBusMessage("x")))).Reason);
        await QueueAsync("q");
        Assert.Equal(ServiceBusFailureReason.MessagingEntityAlreadyExists,
            (await Assert.ThrowsAsync<ServiceBusException>(() => QueueAsync("q"))).Reason);
    }

    private Task QueueAsync(string name, int maxDeliveryCount = 10) =>
        _admin.CreateQueueAsync(new CreateQueueOptions(name) { LockDuration = TimeSpan.FromSeconds(10), MaxDeliveryCount = maxDeliveryCount });
}

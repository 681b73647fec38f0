using Azure.Messaging.ServiceBus.Administration;
using Bus.AzureServiceBus.Tests.Fake;
using Bus.Testing;
using Bus.Transports;

namespace Bus.AzureServiceBus.Tests.Unit;

/// <summary>Provisioning and verification with <see cref="ServiceBusAdministrationClient"/> on the fake namespace.</summary>
public sealed class TopologyTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly FakeServiceBus _fake;
    private readonly FakeServiceBusAdministrationClient _admin;

    public TopologyTests()
    {
        _fake = new FakeServiceBus(_time);
        _admin = new FakeServiceBusAdministrationClient(_fake);
    }

    [Fact]
    public async Task Provision_creates_the_queue_with_its_settings_topics_and_forwarding_subscriptions()
    {
        await using var transport = Transport(o =>
        {
            o.EntityPrefix = "dev-";
            o.LockDuration = TimeSpan.FromSeconds(45);
            o.MaxDeliveryCount = 12;
            o.MaxSizeInMegabytes = 2048;
        });

        await transport.ProvisionAsync(new TransportTopology("billing", ["invoice.paid"], ["order.placed"]), default);
        await transport.ProvisionAsync(new TransportTopology("billing", ["invoice.paid"], ["order.placed"]), default); // idempotent

        var queue = _fake.QueueSettingsOf("dev-billing")!;
        Assert.Equal((TimeSpan.FromSeconds(45), 12, 2048L, 256L), (queue.LockDuration, queue.MaxDeliveryCount, queue.MaxSizeInMegabytes, queue.MaxMessageSizeInKilobytes!.Value));
        Assert.NotNull(await _admin.GetTopicAsync("dev-invoice.paid"));
        var subscription = Assert.Single(_fake.SubscriptionsOf("dev-order.placed"));
        Assert.Equal("billing", subscription.Name);
        Assert.Equal($"sb://{FakeServiceBus.Namespace}/dev-billing", subscription.ForwardTo);
        Assert.Equal(12, subscription.MaxDeliveryCount);
    }

    [Fact]
    public async Task Verify_only_lists_every_missing_entity_and_every_mismatched_setting_in_one_error()
    {
        await _admin.CreateQueueAsync(new CreateQueueOptions("billing") { LockDuration = TimeSpan.FromSeconds(30), MaxDeliveryCount = 3 });
        await _admin.CreateQueueAsync(new CreateQueueOptions("elsewhere"));
        await _admin.CreateTopicAsync(new CreateTopicOptions("order.placed"));
        await _admin.CreateSubscriptionAsync(new CreateSubscriptionOptions("order.placed", "billing") { ForwardTo = "elsewhere" });
        await using var transport = Transport(o => o.ProvisioningMode = ProvisioningMode.VerifyOnly);

        var error = await Assert.ThrowsAsync<BusConfigurationException>(() =>
            transport.ProvisionAsync(new TransportTopology("billing", ["invoice.paid"], ["order.placed", "order.cancelled"]), default));

        Assert.Contains("topic 'invoice.paid'", error.Message, StringComparison.Ordinal);
        Assert.Contains("topic 'order.cancelled'", error.Message, StringComparison.Ordinal);
        Assert.Contains("subscription 'order.cancelled/subscriptions/billing'", error.Message, StringComparison.Ordinal);
        Assert.Contains("LockDuration is 00:00:30, the options say 00:00:10", error.Message, StringComparison.Ordinal);
        Assert.Contains("MaxDeliveryCount is 3, the options say 10", error.Message, StringComparison.Ordinal);
        Assert.Contains("forwards to 'sb://fake.servicebus.windows.net/elsewhere', not into queue 'billing'", error.Message, StringComparison.Ordinal);
        Assert.Contains("ProvisioningMode.CreateIfMissing", error.Message, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(30), _fake.QueueSettingsOf("billing")!.LockDuration); // nothing changed
        Assert.Null(_fake.QueueSettingsOf("invoice.paid"));
    }

    [Fact]
    public async Task Create_if_missing_corrects_the_queue_settings_and_points_a_subscription_at_the_queue()
    {
        await _admin.CreateQueueAsync(new CreateQueueOptions("billing") { LockDuration = TimeSpan.FromSeconds(30), MaxDeliveryCount = 3 });
        await _admin.CreateQueueAsync(new CreateQueueOptions("elsewhere"));
        await _admin.CreateTopicAsync(new CreateTopicOptions("order.placed"));
        await _admin.CreateSubscriptionAsync(new CreateSubscriptionOptions("order.placed", "billing") { ForwardTo = "elsewhere" });
        await using var transport = Transport();

        await transport.ProvisionAsync(new TransportTopology("billing", [], ["order.placed"]), default);

        Assert.Equal((TimeSpan.FromSeconds(10), 10), (_fake.QueueSettingsOf("billing")!.LockDuration, _fake.QueueSettingsOf("billing")!.MaxDeliveryCount));
        Assert.EndsWith("/billing", Assert.Single(_fake.SubscriptionsOf("order.placed")).ForwardTo, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_endpoint_queue_that_forwards_elsewhere_fails_and_is_left_alone()
    {
        await _admin.CreateQueueAsync(new CreateQueueOptions("elsewhere"));
        await _admin.CreateQueueAsync(new CreateQueueOptions("billing") { LockDuration = TimeSpan.FromSeconds(10), ForwardTo = "elsewhere" });
        await using var transport = Transport();

        var error = await Assert.ThrowsAsync<BusConfigurationException>(() => transport.ProvisionAsync(new TransportTopology("billing", [], []), default));

        Assert.Contains("remove its ForwardTo", error.Message, StringComparison.Ordinal);
        Assert.Equal("elsewhere", _fake.QueueSettingsOf("billing")!.ForwardTo);
    }

    [Fact]
    public async Task Premium_sets_the_message_size_of_queues_and_topics()
    {
        var fake = new FakeServiceBus(_time, MessagingSku.Premium);
        await using var transport = FakeTransports.Create(fake, _time, o => o.MaxMessageSizeInKilobytes = 102400);

        await transport.ProvisionAsync(new TransportTopology("media", ["video.ready"], []), default);

        Assert.Equal(102400, fake.QueueSettingsOf("media")!.MaxMessageSizeInKilobytes);
        Assert.Equal(102400, (await new FakeServiceBusAdministrationClient(fake).GetTopicAsync("video.ready")).Value.MaxMessageSizeInKilobytes);
        Assert.Equal(100L * 1024 * 1024, transport.Capabilities.MaxMessageSize);
    }

    private ServiceBusTransport Transport(Action<ServiceBusTransportOptions>? configure = null) => FakeTransports.Create(_fake, _time, configure);
}

using Bus.Conformance;
using Bus.Hosting;
using Bus.Testing;
using Bus.Conformance.Workflows;
using Bus.Transports;
using Bus.Transports.InMemory;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Tests.Hosting;

/// <summary>Assembly scanning, assembly routing, explicit subscriptions and scheduled delivery, end to end.</summary>
public sealed class RegistrationTests
{
    [Fact]
    public async Task Handlers_scanned_from_an_assembly_handle_their_messages()
    {
        var recorder = new Recorder();
        await using var harness = await BusTestHarness.StartAsync(
            bus => bus.AddHandlersFromAssembly(typeof(DoWorkHandler).Assembly),
            services => services.AddSingleton(recorder));

        await harness.SendAsync(new DoWork("scan", "s1"));
        await harness.SendAsync(new LongJob("scan", "s2", Steps: 1));

        Assert.Equal([nameof(DoWorkHandler), nameof(LongJobHandler)], recorder.All.Select(h => h.Handler));
        Assert.Empty(await harness.DeadLettersAsync());
    }

    [Fact]
    public async Task Commands_routed_by_assembly_and_namespace_go_to_their_owner_and_others_are_not_routed()
    {
        await using var harness = await BusTestHarness.StartAsync(
            bus => bus.RouteCommands(typeof(ChargeCard).Assembly, "billing", namespacePrefix: "Bus.Conformance.Workflows"));

        await harness.Bus.SendAsync(new ChargeCard("o-1", 5m));
        await harness.Bus.SendAsync(new PaymentTimedOut("o-1"));

        Assert.All(harness.Outgoing, m => Assert.Equal(Destination.Queue("billing"), m.Destination));
        Assert.Equal(2, harness.Outgoing.Count);
        var unrouted = await Assert.ThrowsAsync<InvalidOperationException>(() => harness.Bus.SendAsync(new Bus.Tests.Hosting.UnroutedCommand()));
        Assert.Contains("No route for command", unrouted.Message);
    }

    [Fact]
    public async Task An_explicitly_subscribed_event_reaches_the_endpoint_and_without_a_handler_is_dead_lettered_not_dropped()
    {
        var time = new ManualTimeProvider();
        var broker = new InMemoryBroker(time);
        var driver = new TimeDriver(time, TimeSpan.FromSeconds(30));
        using var probe = new BusProbe();
        await using var subscriber = await TestEndpoint.StartAsync("subscriber-" + Guid.NewGuid().ToString("N")[..6], time, _ => { }, bus =>
        {
            bus.UseInMemoryTransport(broker);
            bus.Subscribe<PaymentCaptured>();
        });
        await using var publisher = await TestEndpoint.StartAsync("publisher-" + Guid.NewGuid().ToString("N")[..6], time, _ => { }, bus =>
        {
            bus.UseInMemoryTransport(broker);
            bus.AddHandler<DoWorkHandler>();
        });

        await publisher.Bus.PublishAsync(new PaymentCaptured("o-7"));

        await driver.AwaitAsync(probe.WhenAsync(subscriber.Name, "bus.messages.dead_lettered", 1));
        var dead = Assert.Single(await subscriber.DeadLetters.PeekAsync(subscriber.Name, 10, default));
        Assert.Contains("No handler", dead.Failure.Reason);
        Assert.Empty(await publisher.DeadLetters.PeekAsync(publisher.Name, 10, default));
        await driver.AwaitAsync(subscriber.StopAsync());
        await driver.AwaitAsync(publisher.StopAsync());
    }

    [Fact]
    public async Task A_message_sent_to_be_delivered_at_a_time_is_handled_then_and_not_before()
    {
        var recorder = new Recorder();
        await using var harness = await BusTestHarness.StartAsync(bus => bus.AddHandler<DoWorkHandler>(), services => services.AddSingleton(recorder));
        var at = harness.Time.GetUtcNow() + TimeSpan.FromMinutes(10);

        await harness.SendAsync(new DoWork("at", "a1"), new DeliveryOptions { DeliverAt = at });
        await harness.AdvanceTimeAsync(TimeSpan.FromMinutes(10) - TimeSpan.FromTicks(1));
        Assert.Empty(recorder.All);
        await harness.AdvanceTimeAsync(TimeSpan.FromTicks(1));

        Assert.Equal(at, Assert.Single(recorder.All).At);
    }
}

/// <summary>A command in no routed namespace and handled nowhere.</summary>
public sealed record UnroutedCommand : ICommand;

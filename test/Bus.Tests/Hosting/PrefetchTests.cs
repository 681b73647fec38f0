using Bus.Conformance;
using Bus.Testing;
using Bus.Transports;
using Bus.Transports.InMemory;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Tests.Hosting;

/// <summary>Backpressure: an endpoint holds at most MaxConcurrency + Prefetch messages; the rest stay in the queue.</summary>
public sealed class PrefetchTests
{
    [Fact]
    public async Task An_endpoint_takes_no_more_than_its_concurrency_plus_prefetch_and_leaves_the_rest_to_other_workers()
    {
        var time = new ManualTimeProvider();
        var broker = new InMemoryBroker(time);
        var recorder = new Recorder();
        var driver = new TimeDriver(time, TimeSpan.FromSeconds(30));
        var name = $"prefetch-{Guid.NewGuid():N}"[..16];
        await using (var sender = await TestEndpoint.StartAsync(name + "-sender", time, _ => { }, bus =>
        {
            bus.UseInMemoryTransport(broker);
            bus.RouteCommand<DoWork>(name);
        }))
        {
            for (var i = 0; i < 6; i++)
            {
                await sender.Bus.SendAsync(new DoWork("prefetch", $"p{i}", "block"));
            }
        }

        // All six wait before the endpoint starts, so what it takes is decided by its capacity alone.
        await using var endpoint = await TestEndpoint.StartAsync(name, time, services => services.AddSingleton(recorder), bus =>
        {
            bus.UseInMemoryTransport(broker);
            bus.AddHandler<DoWorkHandler>();
            bus.MaxConcurrency = 2;
            bus.Prefetch = 1;
        });

        await recorder.WhenAsync(all => all.Count == 2).WaitAsync(TimeSpan.FromSeconds(10));

        // Another worker finds exactly the 3 messages the endpoint did not take (2 running + 1 buffered).
        await using var other = new InMemoryTransport(broker);
        var left = await other.ReceiveAsync(name, 10, TimeSpan.FromMinutes(5), default);
        Assert.Equal(3, left.Count);
        Assert.Equal(2, recorder.Running);
        Assert.Equal(6, broker.CountMessages(name));
        foreach (var message in left)
        {
            await message.ReleaseAsync(TimeSpan.Zero, default);
        }

        for (var i = 0; i < 6; i++)
        {
            recorder.Open($"p{i}");
        }

        await driver.AwaitAsync(recorder.WhenAsync(all => all.Count == 6));
        Assert.Equal(2, recorder.MaxRunning);
        await driver.AwaitAsync(endpoint.StopAsync());
    }

    [Fact]
    public async Task On_a_transport_that_counts_attempts_at_receive_an_endpoint_takes_only_what_its_workers_start()
    {
        var time = new ManualTimeProvider();
        var broker = new InMemoryBroker(time);
        var recorder = new Recorder();
        var driver = new TimeDriver(time, TimeSpan.FromSeconds(30));
        var name = $"noprefetch-{Guid.NewGuid():N}"[..18];
        await using (var sender = await TestEndpoint.StartAsync(name + "-sender", time, _ => { }, bus =>
        {
            bus.UseInMemoryTransport(broker);
            bus.RouteCommand<DoWork>(name);
        }))
        {
            for (var i = 0; i < 6; i++)
            {
                await sender.Bus.SendAsync(new DoWork("noprefetch", $"q{i}", "block"));
            }
        }

        // Like SQS or Service Bus: a received message has counted an attempt, so a prefetched one would lose it in a kill.
        await using var endpoint = await TestEndpoint.StartAsync(name, time, services => services.AddSingleton(recorder), bus =>
        {
            bus.UseTransport(_ => new CountsAtReceive(new InMemoryTransport(broker)));
            bus.AddHandler<DoWorkHandler>();
            bus.MaxConcurrency = 2;
            bus.Prefetch = 3;
        });

        await recorder.WhenAsync(all => all.Count == 2).WaitAsync(TimeSpan.FromSeconds(10));

        // Only the 2 running were taken: the Prefetch of 3 does not apply.
        await using var other = new InMemoryTransport(broker);
        var left = await other.ReceiveAsync(name, 10, TimeSpan.FromMinutes(5), default);
        Assert.Equal(4, left.Count);
        foreach (var message in left)
        {
            await message.ReleaseAsync(TimeSpan.Zero, default);
        }

        for (var i = 0; i < 6; i++)
        {
            recorder.Open($"q{i}");
        }

        await driver.AwaitAsync(recorder.WhenAsync(all => all.Count == 6));
        Assert.Equal(2, recorder.MaxRunning);
        await driver.AwaitAsync(endpoint.StopAsync());
    }

    /// <summary>The in-memory transport, declaring that it counts attempts at receive (as SQS and Service Bus do).</summary>
    private sealed class CountsAtReceive(ITransport inner) : ITransport
    {
        public TransportCapabilities Capabilities { get; } = inner.Capabilities with { CountsAttemptsAtStart = false };

        public IDeadLetterQueue DeadLetters => inner.DeadLetters;

        public Task ProvisionAsync(TransportTopology topology, CancellationToken cancellationToken) => inner.ProvisionAsync(topology, cancellationToken);

        public Task SendAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken) => inner.SendAsync(messages, cancellationToken);

        public ValueTask<IReadOnlyList<IReceivedMessage>> ReceiveAsync(string queue, int maxMessages, TimeSpan leaseDuration, CancellationToken cancellationToken) =>
            inner.ReceiveAsync(queue, maxMessages, leaseDuration, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}

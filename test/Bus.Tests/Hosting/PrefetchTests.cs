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
}

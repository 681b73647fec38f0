using Bus.Conformance;
using Bus.Testing;
using Bus.Transports.InMemory;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Tests.Pipeline;

/// <summary>Per-type limits on the in-memory transport (which counts attempts at start): a message beyond the ones
/// that may wait is released without an attempt counted, and comes back.</summary>
public sealed class TypeConcurrencyTests
{
    [Fact]
    public async Task A_message_beyond_the_waiting_ones_is_released_without_an_attempt_and_handled_later()
    {
        var time = new ManualTimeProvider();
        var recorder = new Recorder();
        var driver = new TimeDriver(time, TimeSpan.FromSeconds(30)) { Step = TimeSpan.FromMilliseconds(100) };
        var endpoint = await TestEndpoint.StartAsync("limits-" + Guid.NewGuid().ToString("N")[..6], time, s => s.AddSingleton(recorder), bus =>
        {
            bus.UseInMemoryTransport(new InMemoryBroker(time));
            bus.MaxConcurrency = 3;
            bus.AddHandler<HeavyWorkHandler>();
            bus.ConfigureHandling<HeavyWork>(h => h.MaxConcurrency(1));
        });
        await using var _ = endpoint;
        var started = (IReadOnlyList<Handled> all) => all.Where(h => h.Handler == nameof(HeavyWorkHandler)).ToList();

        foreach (var id in new[] { "h1", "h2", "h3" })
        {
            await endpoint.Bus.SendAsync(new HeavyWork("t", id));
        }

        await driver.AwaitAsync(recorder.WhenAsync(all => started(all).Count == 1));
        foreach (var id in new[] { "h1", "h2", "h3" })
        {
            recorder.Open(id);
            await driver.AwaitAsync(recorder.WhenAsync(all => all.Count(h => h.Handler == "heavy-done" && ((HeavyWork)h.Message).Id == id) == 1));
        }

        await driver.AwaitAsync(recorder.WhenAsync(all => started(all).Count == 3));
        Assert.All(started(recorder.All), h => Assert.Equal(1, h.Attempt));
        Assert.Equal(["h1", "h2", "h3"], started(recorder.All).Select(h => ((HeavyWork)h.Message).Id).Order());
        await driver.AwaitAsync(endpoint.StopAsync());
    }
}

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
        static string IdOf(Handled h) => ((HeavyWork)h.Message).Id;
        var started = (IReadOnlyList<Handled> all) => all.Where(h => h.Handler == nameof(HeavyWorkHandler)).ToList();

        foreach (var id in new[] { "h1", "h2", "h3" })
        {
            await endpoint.Bus.SendAsync(new HeavyWork("t", id));
        }

        // Whichever message the workers admitted first runs; the others wait or are released. Each is let finish in the
        // order they start (three workers race to admit them, so that order is not the send order).
        var finished = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            await driver.AwaitAsync(recorder.WhenAsync(all => started(all).Any(h => !finished.Contains(IdOf(h)))));
            var next = IdOf(started(recorder.All).First(h => !finished.Contains(IdOf(h))));
            recorder.Open(next);
            await driver.AwaitAsync(recorder.WhenAsync(all => all.Any(h => h.Handler == "heavy-done" && IdOf(h) == next)));
            finished.Add(next);
        }

        Assert.All(started(recorder.All), h => Assert.Equal(1, h.Attempt));
        Assert.Equal(["h1", "h2", "h3"], started(recorder.All).Select(IdOf).Order());

        // One at a time: every start follows the previous message's end.
        var heavy = recorder.All.Where(h => h.Handler is nameof(HeavyWorkHandler) or "heavy-done").Select(h => h.Handler).ToList();
        Assert.Equal([.. Enumerable.Repeat(new[] { nameof(HeavyWorkHandler), "heavy-done" }, 3).SelectMany(pair => pair)], heavy);
        await driver.AwaitAsync(endpoint.StopAsync());
    }
}

using Bus.Conformance;
using Bus.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Tests.Hosting;

/// <summary>The "Bus" Meter: counters per outcome and the handler-duration histogram tagged with it.</summary>
public sealed class MetricsTests : IDisposable
{
    private readonly BusProbe _probe = new();

    public void Dispose() => _probe.Dispose();

    [Fact]
    public async Task Received_completed_retried_and_dead_lettered_are_counted_and_every_handling_is_timed_with_its_outcome()
    {
        var recorder = new Recorder();
        var name = $"metrics-{Guid.NewGuid():N}"[..16];
        await using var harness = await BusTestHarness.StartAsync(
            bus =>
            {
                bus.EndpointName = name;
                bus.AddHandler<DoWorkHandler>();
                bus.Retry.ImmediateRetries = 0;
                bus.Retry.MaxAttempts = 2;
            },
            services => services.AddSingleton(recorder));

        await harness.SendAsync(new DoWork("m", "ok"));
        await harness.SendAsync(new DoWork("m", "fails", "throw"));
        await harness.AdvanceTimeAsync(TimeSpan.FromMinutes(5));

        // The harness is idle once the messages are settled; the counters and the histogram follow the settlement.
        await _probe.WhenAsync(name, "bus.messages.dead_lettered", 1).WaitAsync(harness.Patience);
        await _probe.WhenAsync(name, "bus.handler.duration", 3).WaitAsync(harness.Patience);
        Assert.Equal(3, _probe.Count(name, "bus.messages.received"));
        Assert.Equal(1, _probe.Count(name, "bus.messages.completed"));
        Assert.Equal(1, _probe.Count(name, "bus.messages.retried"));
        Assert.Equal(1, _probe.Count(name, "bus.messages.dead_lettered"));
        Assert.Equal(2, _probe.Count(name, "bus.messages.sent"));
        var durations = _probe.Recorded(name, "bus.handler.duration");
        Assert.Equal(["completed", "retried", "dead-lettered"], durations.Select(d => d.Tags["bus.outcome"]));
        Assert.All(durations, d => Assert.True(d.Value >= 0));
    }
}

using Bus.Transports;
using Xunit;

namespace Bus.Conformance;

/// <summary>Priority: a message sent with a higher <see cref="DeliveryOptions.Priority"/> is handled before lower ones
/// that were waiting.</summary>
public abstract partial class BusConformanceTests
{
    [SkippableFact]
    public async Task A_higher_priority_message_is_handled_before_lower_ones_sent_earlier()
    {
        var endpoint = await StartEndpointAsync("priority", bus =>
        {
            bus.MaxConcurrency = 1;
            bus.Prefetch = 0; // nothing is received while the one worker is busy
            bus.AddHandler<DoWorkHandler>();
        });
        Skip.If(endpoint.Transport.Capabilities.PriorityOrdering == PriorityOrdering.None, "the transport does not order by priority");

        await endpoint.Bus.SendAsync(new DoWork(TestId, "blocker", "block"));
        await Driver.AwaitAsync(Recorder.EnteredAsync("blocker"));
        await endpoint.Bus.SendAsync(new DoWork(TestId, "low-1"));
        await endpoint.Bus.SendAsync(new DoWork(TestId, "low-2"), new DeliveryOptions { Priority = 0 });
        await endpoint.Bus.SendAsync(new DoWork(TestId, "high"), new DeliveryOptions { Priority = 6 });
        Recorder.Open("blocker");

        await WaitForAsync(all => Mine(all).Count() == 4);
        var order = Mine(Recorder.All).Select(h => ((DoWork)h.Message).Id).ToList();
        Assert.Equal("blocker", order[0]);
        Assert.Equal("high", order[1]);
        Assert.Equal(["low-1", "low-2"], order[2..].Order());
        var high = Mine(Recorder.All).Single(h => ((DoWork)h.Message).Id == "high");
        Assert.Equal("6", high.Headers[MessageHeaders.Priority]);
    }

    [Fact]
    public async Task A_priority_out_of_range_is_refused_at_send_naming_the_range()
    {
        var endpoint = await StartEndpointAsync("priority-range", bus => bus.AddHandler<DoWorkHandler>());

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => endpoint.Bus.SendAsync(new DoWork(TestId, "too-high"), new DeliveryOptions { Priority = 10 }));

        Assert.Contains("0 to 9", error.Message);
    }
}

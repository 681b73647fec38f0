using Xunit;

namespace Bus.Conformance;

/// <summary>Batch handlers.</summary>
public abstract partial class BusConformanceTests
{
    [Fact]
    public async Task A_batch_handler_gets_a_full_batch_and_each_message_is_settled_on_its_own()
    {
        var endpoint = await StartEndpointAsync("batch", bus =>
        {
            bus.AddHandler<BatchWorkHandler>();
            bus.ConfigureHandling<BatchWork>(h => h.Batch(3, TimeSpan.FromSeconds(5)));
        });
        var batches = (IReadOnlyList<Handled> all) => all.Select(h => h.Message).OfType<BatchSeen>().Where(b => b.Test == TestId).ToList();

        await endpoint.Bus.SendAsync(new BatchWork(TestId, "ok"));
        await endpoint.Bus.SendAsync(new BatchWork(TestId, "fail", "fail"));
        await endpoint.Bus.SendAsync(new BatchWork(TestId, "dead", "dead"));

        // Full at 3: handled at once, before the 5-second window. The failed one comes back alone (its window).
        await WaitForAsync(all => batches(all).Count == 2);
        var dead = await SingleDeadLetterAsync(endpoint);

        var all = batches(Recorder.All);
        Assert.Equal(["dead", "fail", "ok"], all[0].Ids.Order());
        Assert.Equal([1, 1, 1], all[0].Attempts);
        Assert.Equal(["fail"], all[1].Ids);
        Assert.Equal([2], all[1].Attempts);
        Assert.Contains("rejected dead", dead.Failure.Reason);
        Assert.Single(all, b => b.Ids.Contains("ok"));
    }

    [Fact]
    public async Task A_batch_that_does_not_fill_is_handled_when_its_window_closes()
    {
        var endpoint = await StartEndpointAsync("batchwindow", bus =>
        {
            bus.AddHandler<BatchWorkHandler>();
            bus.ConfigureHandling<BatchWork>(h => h.Batch(10, TimeSpan.FromSeconds(2)));
        });

        await endpoint.Bus.SendAsync(new BatchWork(TestId, "a"));
        await endpoint.Bus.SendAsync(new BatchWork(TestId, "b"));

        await WaitForAsync(all => all.Select(h => h.Message).OfType<BatchSeen>().Where(b => b.Test == TestId).Sum(b => b.Ids.Count) == 2);
        Assert.All(Recorder.All.Select(h => h.Message).OfType<BatchSeen>().Where(b => b.Test == TestId), b => Assert.All(b.Attempts, a => Assert.Equal(1, a)));
    }
}

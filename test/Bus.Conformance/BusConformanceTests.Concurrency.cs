using Xunit;

namespace Bus.Conformance;

/// <summary>Per-type concurrency limits.</summary>
public abstract partial class BusConformanceTests
{
    [Fact]
    public async Task A_heavy_type_at_its_limit_leaves_the_other_workers_to_other_types_and_its_waiting_message_keeps_its_attempt()
    {
        var endpoint = await StartEndpointAsync("typelimit", bus =>
        {
            bus.MaxConcurrency = 2;
            bus.AddHandler<DoWorkHandler>();
            bus.AddHandler<HeavyWorkHandler>();
            bus.ConfigureHandling<HeavyWork>(h => h.MaxConcurrency(1));
        });
        var heavy = (IReadOnlyList<Handled> all) => all.Where(h => h.Handler == nameof(HeavyWorkHandler) && ((HeavyWork)h.Message).Test == TestId).ToList();

        await endpoint.Bus.SendAsync(new HeavyWork(TestId, "h1"));
        await endpoint.Bus.SendAsync(new HeavyWork(TestId, "h2"));
        await WaitForAsync(all => heavy(all).Count == 1);
        for (var i = 0; i < 3; i++)
        {
            await endpoint.Bus.SendAsync(new DoWork(TestId, "light-" + i));
        }

        // Without the limit both workers would wait at the heavy gates and no light message would run.
        await WaitForAsync(all => Mine(all).Count(h => h.Handler == nameof(DoWorkHandler)) == 3);
        var first = Assert.Single(heavy(Recorder.All));

        Recorder.Open(((HeavyWork)first.Message).Id);
        await WaitForAsync(all => heavy(all).Count == 2);
        var second = heavy(Recorder.All)[1];
        Recorder.Open(((HeavyWork)second.Message).Id);
        await WaitForAsync(all => all.Count(h => h.Handler == "heavy-done" && ((HeavyWork)h.Message).Test == TestId) == 2);

        Assert.Equal(["h1", "h2"], heavy(Recorder.All).Select(h => ((HeavyWork)h.Message).Id).Order());
        Assert.All(heavy(Recorder.All), h => Assert.Equal(1, h.Attempt));
    }

    [Fact]
    public void A_type_limit_out_of_range_is_refused_naming_the_setting()
    {
        var error = Assert.Throws<BusConfigurationException>(() => new Hosting.HandlerOptions().MaxConcurrency(0));
        Assert.Contains("concurrency limit", error.Message);
    }
}

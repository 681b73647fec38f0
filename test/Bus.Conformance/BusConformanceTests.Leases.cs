using System.Text;
using Bus.Hosting;
using Bus.Leases;
using Bus.Transports;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Bus.Conformance;

/// <summary>Leases, crashes, graceful stop, concurrency and max runtime.</summary>
public abstract partial class BusConformanceTests
{
    [Fact]
    public async Task Message_of_a_crashed_worker_is_redelivered_after_its_lease_expires()
    {
        var endpoint = await StartEndpointAsync("crash", b => b.AddHandler<DoWorkHandler>());
        await Driver.AwaitAsync(endpoint.StopAsync());
        await endpoint.Bus.SendAsync(new DoWork(TestId, "k1"));

        // A worker takes the message, starts its handler and dies without settling it.
        var crashed = await Driver.AwaitAsync(ReceiveOneAsync(endpoint));
        Assert.NotNull(crashed);
        await crashed.BeginAttemptAsync(default);
        var survivor = await StartEndpointAsync("crash-survivor", b =>
        {
            b.EndpointName = endpoint.Name;
            b.AddHandler<DoWorkHandler>();
        });
        await WaitForAsync(all => Mine(all).Any());

        var handled = Assert.Single(Mine(Recorder.All));
        Assert.Equal(2, handled.Attempt);
        Assert.Equal(crashed.Message.MessageId, handled.MessageId);
        _ = survivor;
    }

    [SkippableFact]
    public async Task Message_a_killed_worker_received_but_never_started_keeps_its_attempt_where_attempts_count_at_start()
    {
        var endpoint = await StartEndpointAsync("unstarted", b => b.AddHandler<DoWorkHandler>());
        Skip.IfNot(endpoint.Transport.Capabilities.CountsAttemptsAtStart,
            $"The {endpoint.Transport.Capabilities.Name} transport counts every receive; the bus does not prefetch there.");
        await Driver.AwaitAsync(endpoint.StopAsync());
        await endpoint.Bus.SendAsync(new DoWork(TestId, "u1"));

        // A worker takes the message (prefetched, waiting for a free handler) and is killed before starting it.
        var prefetched = await Driver.AwaitAsync(ReceiveOneAsync(endpoint));
        Assert.NotNull(prefetched);
        var survivor = await StartEndpointAsync("unstarted-survivor", b =>
        {
            b.EndpointName = endpoint.Name;
            b.AddHandler<DoWorkHandler>();
        });
        await WaitForAsync(all => Mine(all).Any());

        var handled = Assert.Single(Mine(Recorder.All));
        Assert.Equal(1, handled.Attempt);
        Assert.Equal(prefetched.Message.MessageId, handled.MessageId);
        _ = survivor;
    }

    [Fact]
    public async Task Heartbeats_keep_a_handler_longer_than_its_lease_from_redelivery()
    {
        var profile = new Leases.ExecutionProfile
        {
            LeaseDuration = ShortLease,
            HeartbeatInterval = ShortLease / 4,
            MaxRuntime = ShortLease * 20,
        };

        // The endpoint's own profile is the short one too, so the lease taken at receive is ShortLease: eight
        // heartbeats (two leases) can only keep the message if each renewal extends it.
        var endpoint = await StartEndpointAsync("heartbeat", b =>
        {
            b.Profile = profile;
            b.AddHandler<DoWorkHandler>().ConfigureHandling<DoWork>(h => h.Profile = profile);
        });

        // Time moves on one heartbeat at a time, each once the one before was renewed (see AwaitHeartbeatByHeartbeatAsync).
        await endpoint.Bus.SendAsync(new DoWork(TestId, "b1", "block"));
        await Driver.AwaitAsync(Recorder.WhenAsync(all => Mine(all).Any()), profile.HeartbeatInterval);
        await AwaitHeartbeatByHeartbeatAsync(endpoint, profile.HeartbeatInterval,
            Probe.WhenAsync(endpoint.Name, "bus.lease.renewals", 8)); // well past two leases
        Recorder.Open("b1");
        await Driver.AwaitAsync(Probe.WhenAsync(endpoint.Name, "bus.messages.completed", 1), profile.HeartbeatInterval);

        var handled = Assert.Single(Mine(Recorder.All));
        Assert.Equal(1, handled.Attempt);
        Assert.Equal(0, Probe.Count(endpoint.Name, "bus.lease.lost"));
    }

    [Fact]
    public async Task Graceful_stop_loses_nothing()
    {
        var first = await StartEndpointAsync("stop", b =>
        {
            b.AddHandler<DoWorkHandler>();
            b.MaxConcurrency = 2;
            b.Prefetch = 3;
        });
        for (var i = 0; i < 10; i++)
        {
            await first.Bus.SendAsync(new DoWork(TestId, $"m{i}", i < 2 ? "block" : "ok"));
        }

        await WaitForAsync(all => Mine(all).Count(h => ((DoWork)h.Message).Mode == "block") == 2 || Mine(all).Count() >= 4);
        var stopping = first.StopAsync();
        Recorder.Open("m0");
        Recorder.Open("m1");
        await Driver.AwaitAsync(stopping);
        var second = await StartEndpointAsync("stop-second", b =>
        {
            b.EndpointName = first.Name;
            b.AddHandler<DoWorkHandler>();
        });
        await WaitForAsync(all => Enumerable.Range(0, 10).All(i => Mine(all).Any(h => ((DoWork)h.Message).Id == $"m{i}")));

        Assert.Equal(0, Probe.Count(first.Name, "bus.messages.dead_lettered"));
        Assert.Empty(await second.DeadLetters.PeekAsync(first.Name, 10, default));

        // Prefetched messages were given back at the stop, not left for their leases to expire: no attempt counted.
        Assert.All(Mine(Recorder.All), h => Assert.Equal(1, h.Attempt));
    }

    [Fact]
    public async Task Concurrency_limit_is_honoured()
    {
        var endpoint = await StartEndpointAsync("concurrency", b =>
        {
            b.AddHandler<DoWorkHandler>();
            b.MaxConcurrency = 2;
            b.Prefetch = 1;
        });
        for (var i = 0; i < 6; i++)
        {
            await endpoint.Bus.SendAsync(new DoWork(TestId, "gate", "block"));
        }

        await WaitForAsync(all => Mine(all).Count() >= 2);
        Assert.Equal(2, Recorder.Running);
        Recorder.Open("gate");
        await WaitForAsync(all => Mine(all).Count() >= 6);
        await WaitForCountAsync(endpoint, "bus.messages.completed", 6);

        Assert.Equal(2, Recorder.MaxRunning);
    }

    [Fact]
    public async Task Job_past_its_max_runtime_is_cancelled_and_retried()
    {
        var profile = new Leases.ExecutionProfile
        {
            LeaseDuration = ShortLease * 2,
            HeartbeatInterval = ShortLease / 2,
            MaxRuntime = ShortLease * 3,
        };
        var endpoint = await StartEndpointAsync("maxruntime", b => b.AddHandler<LongJobHandler>()
            .ConfigureHandling<LongJob>(h => h.Profile = profile));

        // The first attempt's lease is kept while the clock moves on to its max runtime, one heartbeat at a time. The
        // cancelled attempt opens the gate itself, and the retry is then awaited with the clock moved by less than its
        // own max runtime: opened from here, or on a clock moving with real time, the retry could pass its max runtime
        // before this thread or a busy machine got to it.
        await endpoint.Bus.SendAsync(new LongJob(TestId, "mr", Steps: 2, BlockAtStep: 1, OpenGateWhenCancelled: true));
        await Driver.AwaitAsync(Recorder.WhenAsync(all => all.Any(h => h.Message is LongJob j && j.Test == TestId)), profile.HeartbeatInterval);
        await AwaitHeartbeatByHeartbeatAsync(endpoint, profile.HeartbeatInterval,
            Recorder.WhenAsync(all => all.Any(h => h.Handler == "cancelled" && ((LongJob)h.Message).Test == TestId)));
        await Driver.AwaitAsync(Probe.WhenAsync(endpoint.Name, "bus.messages.completed", 1), profile.HeartbeatInterval);

        // Counted once the retry is settled, which may be after the redelivered copy completed (SQS makes the message
        // visible before it answers the visibility change): waited for, not read at once.
        await Driver.AwaitAsync(Probe.WhenAsync(endpoint.Name, "bus.messages.retried", 1), profile.HeartbeatInterval);
        var starts = Recorder.All.Where(h => h.Handler == nameof(LongJobHandler) && ((LongJob)h.Message).Test == TestId).ToList();
        Assert.Equal([1, 2], starts.Select(h => h.Attempt));
        Assert.Equal([("mr", 0), ("mr", 1)], Recorder.Steps.Where(s => s.Job == "mr"));
    }
}

using Bus.Hosting;
using Bus.Schedules;
using Bus.Testing;
using Bus.Transports.InMemory;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Bus.Conformance;

/// <summary>A tick of the schedule the two-host suite runs.</summary>
/// <param name="Tick">The tick it was sent for.</param>
[MessageName("conformance.scheduled-report")]
public sealed record ScheduledReport(DateTimeOffset Tick) : ICommand;

/// <summary>The last message a sink is sent: when it is handled, everything sent before it was.</summary>
/// <param name="Id">Which drain this is.</param>
[MessageName("conformance.sink-drained")]
public sealed record SinkDrained(string Id) : ICommand;

/// <summary>Records the scheduled reports and drains the sink receives.</summary>
public sealed class ScheduledReportHandler(Recorder recorder) : IHandleMessages<ScheduledReport>, IHandleMessages<SinkDrained>
{
    /// <inheritdoc />
    public Task HandleAsync(ScheduledReport message, IMessageContext context)
    {
        recorder.Record(new Handled(nameof(ScheduledReportHandler), message, context.MessageId, context.Headers, context.Attempt, context.Queue, default));
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task HandleAsync(SinkDrained message, IMessageContext context)
    {
        recorder.Record(new Handled("drain", message, context.MessageId, context.Headers, context.Attempt, context.Queue, default));
        return Task.CompletedTask;
    }
}

/// <summary>
/// A schedule store shared between hosts: two scheduler hosts (buses of their own, each with its own store client on the
/// same records) run one schedule on a manual clock; each tick fires once, and a pause made on one host holds for the
/// other. The ticks go to a sink endpoint that records them; at the end the sink is drained (one worker, first in first
/// out), so a firing too many would show. A store that is shared between hosts (SQLite on one machine, PostgreSQL,
/// DynamoDB, Azure Tables) subclasses this; a per-host store (in memory) does not.
/// </summary>
public abstract class ScheduleStoreTwoHostsTests : IAsyncLifetime
{
    private const string Schedule = "report";
    private static readonly DateTimeOffset Start = new(2026, 3, 27, 12, 0, 0, TimeSpan.Zero);
    private readonly Recorder _recorder = new();
    private readonly List<TestEndpoint> _endpoints = [];
    private readonly string _sink = "sink-" + Guid.NewGuid().ToString("N")[..6];

    /// <summary>Creates the suite on a manual clock and an in-memory broker the hosts share.</summary>
    protected ScheduleStoreTwoHostsTests() => Broker = new InMemoryBroker(Time);

    /// <summary>The manual clock every host runs on.</summary>
    protected ManualTimeProvider Time { get; } = new(Start);

    /// <summary>The in-memory broker of the default transport.</summary>
    protected InMemoryBroker Broker { get; }

    /// <summary>Configures the shared schedule store on one host's <paramref name="bus"/>: a store (and client) of that
    /// host's own, over the same records every call.</summary>
    protected abstract void UseScheduleStore(BusConfiguration bus);

    /// <summary>Configures the transport of the sink and the hosts: the shared in-memory broker unless overridden (e.g.
    /// with the store's own transport, to run the start-up checks of a transport shared between machines).</summary>
    protected virtual void UseTransport(BusConfiguration bus) => bus.UseInMemoryTransport(Broker);

    /// <inheritdoc />
    public virtual async Task InitializeAsync()
    {
        _endpoints.Add(await TestEndpoint.StartAsync(_sink, Time, s => s.AddSingleton(_recorder), bus =>
        {
            UseTransport(bus);
            bus.MaxConcurrency = 1;
            bus.Prefetch = 0;
            bus.AddHandler<ScheduledReportHandler>();
        }));
    }

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        foreach (var endpoint in _endpoints)
        {
            await Driver.AwaitAsync(endpoint.StopAsync());
            await endpoint.DisposeAsync();
        }
    }

    private TimeDriver Driver => new(Time, TimeSpan.FromSeconds(30)) { Step = TimeSpan.FromMilliseconds(100) };

    [Fact]
    public async Task Two_hosts_sharing_the_store_fire_each_tick_once()
    {
        var one = await StartSchedulerAsync();
        await StartSchedulerAsync();
        var first = Start.AddMinutes(15);

        for (var i = 0; i < 6; i++)
        {
            await FireAtAsync(first.AddMinutes(15 * i), i + 1);
        }

        await DrainAsync();

        Assert.Equal(Enumerable.Range(0, 6).Select(i => first.AddMinutes(15 * i)), Fired().Select(r => r.Tick.ToUniversalTime()));
        Assert.Equal(6, _recorder.All.Where(h => h.Message is ScheduledReport).Select(h => h.MessageId).Distinct().Count());
        var status = (await one.Services.GetRequiredService<ISchedules>().ListAsync()).Single();
        Assert.Equal(first.AddMinutes(75), status.LastFiring);
    }

    [Fact]
    public async Task A_pause_on_one_host_holds_for_the_other_until_resumed()
    {
        var one = await StartSchedulerAsync();
        var two = await StartSchedulerAsync();
        await FireAtAsync(Start.AddMinutes(15), 1);

        await one.Services.GetRequiredService<ISchedules>().PauseAsync(Schedule);
        Assert.True((await two.Services.GetRequiredService<ISchedules>().ListAsync()).Single().Paused);
        Time.SetUtcNow(Start.AddMinutes(50)); // 12:30 and 12:45 pass while paused
        await two.Services.GetRequiredService<ISchedules>().ResumeAsync(Schedule);
        await FireAtAsync(Start.AddMinutes(60), 2);
        await DrainAsync();

        Assert.Equal([Start.AddMinutes(15), Start.AddMinutes(60)], Fired().Select(r => r.Tick.ToUniversalTime()));
    }

    private async Task<TestEndpoint> StartSchedulerAsync()
    {
        // No AllowInMemoryStores: on a transport shared between machines the start-up check accepts only a shared store.
        var endpoint = await TestEndpoint.StartAsync("scheduler-" + Guid.NewGuid().ToString("N")[..6], Time, _ => { }, bus =>
        {
            UseTransport(bus);
            UseScheduleStore(bus);
            bus.RouteCommand<ScheduledReport>(_sink);
            bus.Schedule<ScheduledReport>("*/15 * * * *", TimeZoneInfo.Utc, tick => new ScheduledReport(tick), o => o.Name = Schedule);
        });
        _endpoints.Add(endpoint);
        Assert.IsNotType<InMemoryScheduleStore>(endpoint.Services.GetRequiredService<IScheduleStore>());
        return endpoint;
    }

    /// <summary>Sets the clock to <paramref name="tick"/> and waits until <paramref name="count"/> reports arrived.</summary>
    private async Task FireAtAsync(DateTimeOffset tick, int count)
    {
        Time.SetUtcNow(tick);
        // The clock moves on by seconds while waiting: a runner that read the clock just before the jump wakes within its
        // one-minute nap, as it would after a machine's suspend.
        await new TimeDriver(Time, TimeSpan.FromSeconds(30)) { Step = TimeSpan.FromSeconds(1) }
            .AwaitAsync(_recorder.WhenAsync(all => Count(all) >= count));
        Assert.Equal(count, Count(_recorder.All));
    }

    /// <summary>Stops the schedulers (their sends are done then) and waits until the sink handled everything before a
    /// last message.</summary>
    private async Task DrainAsync()
    {
        foreach (var endpoint in _endpoints.Skip(1))
        {
            await Driver.AwaitAsync(endpoint.StopAsync());
        }

        var id = Guid.NewGuid().ToString("N");
        await _endpoints[0].Bus.SendAsync(new SinkDrained(id), new DeliveryOptions { Destination = _sink });
        await Driver.AwaitAsync(_recorder.WhenAsync(all => all.Any(h => h.Message is SinkDrained d && d.Id == id)));
    }

    private static int Count(IReadOnlyList<Handled> all) => all.Count(h => h.Message is ScheduledReport);

    private List<ScheduledReport> Fired() => _recorder.All.Select(h => h.Message).OfType<ScheduledReport>().ToList();
}

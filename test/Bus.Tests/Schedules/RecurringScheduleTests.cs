using Bus.Conformance;
using Bus.Hosting;
using Bus.Schedules;
using Bus.Testing;
using Bus.Transports.InMemory;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Tests.Schedules;

public sealed record NightlyReport(DateTimeOffset Tick) : ICommand;

public sealed record Drained(string Id) : ICommand;

public sealed class NightlyReportHandler(Recorder recorder) : IHandleMessages<NightlyReport>, IHandleMessages<Drained>
{
    public Task HandleAsync(NightlyReport message, IMessageContext context)
    {
        recorder.Record(new Handled(nameof(NightlyReportHandler), message, context.MessageId, context.Headers, context.Attempt, "sink", default));
        return Task.CompletedTask;
    }

    public Task HandleAsync(Drained message, IMessageContext context)
    {
        recorder.Record(new Handled("drain", message, context.MessageId, context.Headers, context.Attempt, "sink", default));
        return Task.CompletedTask;
    }
}

/// <summary>Recurring schedules on a manual clock: daylight-saving changes, hosts sharing a store, missed ticks, pause.
/// Each tick is awaited by setting the clock to it; at the end the sink queue is drained (one worker, first in first
/// out), so a firing too many would show.</summary>
public sealed class RecurringScheduleTests : IAsyncLifetime
{
    private static readonly TimeZoneInfo Berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 3, 27, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryBroker _broker;
    private readonly Recorder _recorder = new();
    private readonly InMemoryScheduleStore _store = new();
    private readonly List<TestEndpoint> _endpoints = [];
    private readonly string _sink = "sink-" + Guid.NewGuid().ToString("N")[..6];

    public RecurringScheduleTests() => _broker = new InMemoryBroker(_time);

    public async Task InitializeAsync()
    {
        _endpoints.Add(await TestEndpoint.StartAsync(_sink, _time, s => s.AddSingleton(_recorder), bus =>
        {
            bus.UseInMemoryTransport(_broker);
            bus.MaxConcurrency = 1;
            bus.Prefetch = 0;
            bus.AddHandler<NightlyReportHandler>();
        }));
    }

    public async Task DisposeAsync()
    {
        foreach (var endpoint in _endpoints)
        {
            await Driver.AwaitAsync(endpoint.StopAsync());
            await endpoint.DisposeAsync();
        }
    }

    private TimeDriver Driver => new(_time, TimeSpan.FromSeconds(30)) { Step = TimeSpan.FromMilliseconds(1) };

    [Fact]
    public async Task A_daily_schedule_fires_at_its_local_time_across_the_spring_daylight_saving_change()
    {
        await StartSchedulerAsync("30 2 * * *");

        // 02:30 in Berlin: 01:30Z in winter time; on 29 March 2026 02:30 does not exist and fires at 03:00 CEST (01:00Z);
        // then 00:30Z in summer time.
        await FireAtAsync(new DateTimeOffset(2026, 3, 28, 1, 30, 0, TimeSpan.Zero), 1);
        await FireAtAsync(new DateTimeOffset(2026, 3, 29, 1, 0, 0, TimeSpan.Zero), 2);
        await FireAtAsync(new DateTimeOffset(2026, 3, 30, 0, 30, 0, TimeSpan.Zero), 3);
        await DrainAsync();

        Assert.Equal(
            [
                new DateTimeOffset(2026, 3, 28, 2, 30, 0, TimeSpan.FromHours(1)),
                new DateTimeOffset(2026, 3, 29, 3, 0, 0, TimeSpan.FromHours(2)),
                new DateTimeOffset(2026, 3, 30, 2, 30, 0, TimeSpan.FromHours(2)),
            ],
            Fired().Select(r => r.Tick));
        Assert.Equal([TimeSpan.FromHours(1), TimeSpan.FromHours(2), TimeSpan.FromHours(2)], Fired().Select(r => r.Tick.Offset));
    }

    [Fact]
    public async Task A_daily_schedule_fires_once_on_the_autumn_day_its_local_time_happens_twice()
    {
        _time.SetUtcNow(new DateTimeOffset(2026, 10, 23, 12, 0, 0, TimeSpan.Zero));
        await StartSchedulerAsync("30 2 * * *");

        await FireAtAsync(new DateTimeOffset(2026, 10, 24, 0, 30, 0, TimeSpan.Zero), 1);
        await FireAtAsync(new DateTimeOffset(2026, 10, 25, 0, 30, 0, TimeSpan.Zero), 2); // the first 02:30 (CEST)
        var schedules = await Schedules(1).ListAsync();
        Assert.Equal(new DateTimeOffset(2026, 10, 26, 1, 30, 0, TimeSpan.Zero), schedules.Single().NextFiring); // not the second 02:30 (CET)

        _time.SetUtcNow(new DateTimeOffset(2026, 10, 25, 1, 45, 0, TimeSpan.Zero));
        await FireAtAsync(new DateTimeOffset(2026, 10, 26, 1, 30, 0, TimeSpan.Zero), 3);
        await DrainAsync();

        Assert.Equal(
            [
                new DateTimeOffset(2026, 10, 24, 0, 30, 0, TimeSpan.Zero),
                new DateTimeOffset(2026, 10, 25, 0, 30, 0, TimeSpan.Zero),
                new DateTimeOffset(2026, 10, 26, 1, 30, 0, TimeSpan.Zero),
            ],
            Fired().Select(r => r.Tick.ToUniversalTime()));
    }

    [Fact]
    public async Task Two_hosts_sharing_a_store_fire_each_tick_once()
    {
        await StartSchedulerAsync("*/15 * * * *");
        await StartSchedulerAsync("*/15 * * * *");
        var first = new DateTimeOffset(2026, 3, 27, 12, 15, 0, TimeSpan.Zero);

        for (var i = 0; i < 6; i++)
        {
            await FireAtAsync(first.AddMinutes(15 * i), i + 1);
        }

        await DrainAsync();

        Assert.Equal(Enumerable.Range(0, 6).Select(i => first.AddMinutes(15 * i)), Fired().Select(r => r.Tick.ToUniversalTime()));
        Assert.Equal(6, _recorder.All.Where(h => h.Handler == nameof(NightlyReportHandler)).Select(h => h.MessageId).Distinct().Count());
    }

    [Fact]
    public async Task After_downtime_the_latest_missed_tick_fires_once_and_the_schedule_goes_on()
    {
        var first = await StartSchedulerAsync("0 * * * *");
        await FireAtAsync(new DateTimeOffset(2026, 3, 27, 13, 0, 0, TimeSpan.Zero), 1);
        await Driver.AwaitAsync(first.StopAsync());

        _time.SetUtcNow(new DateTimeOffset(2026, 3, 27, 16, 20, 0, TimeSpan.Zero)); // 14:00, 15:00 and 16:00 missed
        await StartSchedulerAsync("0 * * * *");
        await Driver.AwaitAsync(_recorder.WhenAsync(all => Count(all) == 2));
        await FireAtAsync(new DateTimeOffset(2026, 3, 27, 17, 0, 0, TimeSpan.Zero), 3);
        await DrainAsync();

        Assert.Equal(
            [new DateTimeOffset(2026, 3, 27, 13, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 3, 27, 16, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 3, 27, 17, 0, 0, TimeSpan.Zero)],
            Fired().Select(r => r.Tick.ToUniversalTime()));
        var status = (await Schedules(_endpoints.Count - 1).ListAsync()).Single();
        Assert.Equal(new DateTimeOffset(2026, 3, 27, 17, 0, 0, TimeSpan.Zero), status.LastFiring);
    }

    [Fact]
    public async Task With_missed_ticks_skipped_a_restarted_host_waits_for_the_next_tick()
    {
        var first = await StartSchedulerAsync("0 * * * *", MissedTicks.Skip);
        await FireAtAsync(new DateTimeOffset(2026, 3, 27, 13, 0, 0, TimeSpan.Zero), 1);
        await Driver.AwaitAsync(first.StopAsync());

        _time.SetUtcNow(new DateTimeOffset(2026, 3, 27, 16, 20, 0, TimeSpan.Zero));
        await StartSchedulerAsync("0 * * * *", MissedTicks.Skip);
        await FireAtAsync(new DateTimeOffset(2026, 3, 27, 17, 0, 0, TimeSpan.Zero), 2);
        await DrainAsync();

        Assert.Equal(
            [new DateTimeOffset(2026, 3, 27, 13, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 3, 27, 17, 0, 0, TimeSpan.Zero)],
            Fired().Select(r => r.Tick.ToUniversalTime()));
    }

    [Fact]
    public async Task A_paused_schedule_fires_nothing_and_resumes_at_its_next_tick_without_the_paused_ones()
    {
        await StartSchedulerAsync("0 * * * *");
        var schedules = Schedules(1);
        await FireAtAsync(new DateTimeOffset(2026, 3, 27, 13, 0, 0, TimeSpan.Zero), 1);

        await schedules.PauseAsync("nightly");
        var paused = (await schedules.ListAsync()).Single();
        Assert.True(paused.Paused);
        Assert.Null(paused.NextFiring);
        _time.SetUtcNow(new DateTimeOffset(2026, 3, 27, 15, 30, 0, TimeSpan.Zero)); // 14:00 and 15:00 pass while paused
        await schedules.ResumeAsync("nightly");
        await FireAtAsync(new DateTimeOffset(2026, 3, 27, 16, 0, 0, TimeSpan.Zero), 2);
        await DrainAsync();

        Assert.Equal(
            [new DateTimeOffset(2026, 3, 27, 13, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 3, 27, 16, 0, 0, TimeSpan.Zero)],
            Fired().Select(r => r.Tick.ToUniversalTime()));
        var status = (await schedules.ListAsync()).Single();
        Assert.Equal(
            new ScheduleStatus("nightly", "Bus.Tests.Schedules.NightlyReport", "0 * * * *", "Europe/Berlin",
                new DateTimeOffset(2026, 3, 27, 17, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 3, 27, 16, 0, 0, TimeSpan.Zero),
                status.LastFiredAt, false),
            status);
        await Assert.ThrowsAsync<ArgumentException>(() => schedules.PauseAsync("nope"));
    }

    [Fact]
    public void A_bad_expression_a_taken_name_and_a_command_without_owner_are_refused_with_what_to_do()
    {
        Assert.Contains("does not read", Invalid(b => b.Schedule<NightlyReport>("61 * * * *", Berlin, t => new(t))));
        Assert.Contains("give each its own name", Invalid(b =>
        {
            b.RouteCommand<NightlyReport>("x");
            b.Schedule<NightlyReport>("0 * * * *", Berlin, t => new(t));
            b.Schedule<NightlyReport>("30 * * * *", Berlin, t => new(t));
        }));
        Assert.Contains("has no owner", Invalid(b => b.Schedule<NightlyReport>("0 * * * *", Berlin, t => new(t))));
        Assert.Contains("not a valid schedule name", Invalid(b =>
        {
            b.RouteCommand<NightlyReport>("x");
            b.Schedule<NightlyReport>("0 * * * *", Berlin, t => new(t), o => o.Name = "has space");
        }));
    }

    [Fact]
    public async Task Starting_records_the_definition_in_the_store_and_a_restart_with_another_cron_updates_it_keeping_the_state()
    {
        var first = await StartSchedulerAsync("0 * * * *");
        var startedAt = _time.GetUtcNow();
        var wireName = (await Schedules(1).ListAsync()).Single().MessageType;
        Assert.Equal(
            new ScheduleState("nightly", null, null, false, null, new ScheduleDefinition(wireName, "0 * * * *", Berlin.Id, MissedTicks.FireOnce, startedAt)),
            await _store.GetAsync("nightly", default));
        await FireAtAsync(new DateTimeOffset(2026, 3, 27, 13, 0, 0, TimeSpan.Zero), 1);
        await Schedules(1).PauseAsync("nightly");
        await Driver.AwaitAsync(first.StopAsync());

        _time.SetUtcNow(new DateTimeOffset(2026, 3, 28, 9, 0, 0, TimeSpan.Zero));
        await StartSchedulerAsync("30 2 * * *", MissedTicks.Skip);

        var record = Assert.Single(await _store.ListAsync(default));
        Assert.Equal(new DateTimeOffset(2026, 3, 27, 13, 0, 0, TimeSpan.Zero), record.LastTick);
        Assert.True(record.Paused);
        Assert.Equal(new ScheduleDefinition(wireName, "30 2 * * *", Berlin.Id, MissedTicks.Skip, _time.GetUtcNow()), record.Definition);
    }

    private static string Invalid(Action<BusConfiguration> change) =>
        Assert.Throws<BusConfigurationException>(() => new ServiceCollection().AddBus(bus =>
        {
            bus.EndpointName = "x";
            bus.UseInMemoryTransport(new InMemoryBroker());
            change(bus);
        })).Message;

    private async Task<TestEndpoint> StartSchedulerAsync(string cron, MissedTicks missed = MissedTicks.FireOnce)
    {
        var endpoint = await TestEndpoint.StartAsync("scheduler-" + Guid.NewGuid().ToString("N")[..6], _time, s => s.AddSingleton<IScheduleStore>(_store), bus =>
        {
            bus.UseInMemoryTransport(_broker);
            bus.RouteCommand<NightlyReport>(_sink);
            bus.Schedule<NightlyReport>(cron, Berlin, tick => new NightlyReport(tick), o =>
            {
                o.Name = "nightly";
                o.Missed = missed;
            });
        });
        _endpoints.Add(endpoint);
        return endpoint;
    }

    private ISchedules Schedules(int endpoint) => _endpoints[endpoint].Services.GetRequiredService<ISchedules>();

    /// <summary>Sets the clock to <paramref name="tick"/> and waits until <paramref name="count"/> reports arrived.</summary>
    private async Task FireAtAsync(DateTimeOffset tick, int count)
    {
        _time.SetUtcNow(tick);
        // The clock moves on by seconds while waiting: a runner that read the clock just before the jump wakes within its
        // one-minute nap, as it would after a machine's suspend.
        await new TimeDriver(_time, TimeSpan.FromSeconds(30)) { Step = TimeSpan.FromSeconds(1) }.AwaitAsync(_recorder.WhenAsync(all => Count(all) >= count));
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
        await _endpoints[0].Bus.SendAsync(new Drained(id), new DeliveryOptions { Destination = _sink });
        await Driver.AwaitAsync(_recorder.WhenAsync(all => all.Any(h => h.Message is Drained d && d.Id == id)));
    }

    private static int Count(IReadOnlyList<Handled> all) => all.Count(h => h.Handler == nameof(NightlyReportHandler));

    private List<NightlyReport> Fired() => _recorder.All.Select(h => h.Message).OfType<NightlyReport>().ToList();
}

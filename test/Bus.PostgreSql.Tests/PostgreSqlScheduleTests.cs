using Bus.Conformance;
using Bus.Hosting;
using Bus.Schedules;
using Bus.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.PostgreSql.Tests;

/// <summary>
/// Recurring schedules on PostgreSQL: two scheduler hosts (buses of their own) on one database and a manual clock, the
/// ticks claimed in <c>{schema}.schedules</c>, the messages sent through the PostgreSQL transport to a sink endpoint
/// that records them. At the end the sink is drained (one worker, first in first out), so a firing too many would show.
/// </summary>
public sealed class PostgreSqlScheduleTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 3, 27, 12, 0, 0, TimeSpan.Zero);
    private readonly ManualTimeProvider _time = new(Start);
    private readonly TestSchema _schema = new();
    private readonly Recorder _recorder = new();
    private readonly List<TestEndpoint> _endpoints = [];
    private readonly string _sink = "sink-" + Guid.NewGuid().ToString("N")[..6];

    public async Task InitializeAsync()
    {
        _endpoints.Add(await TestEndpoint.StartAsync(_sink, _time, s => s.AddSingleton(_recorder), bus =>
        {
            UsePostgreSql(bus);
            bus.MaxConcurrency = 1;
            bus.Prefetch = 0;
            bus.AddHandler<ReportHandler>();
        }));
    }

    public async Task DisposeAsync()
    {
        foreach (var endpoint in _endpoints)
        {
            await Driver.AwaitAsync(endpoint.StopAsync());
            await endpoint.DisposeAsync();
        }

        await _schema.DisposeAsync();
    }

    private TimeDriver Driver => new(_time, TimeSpan.FromSeconds(30)) { Step = TimeSpan.FromMilliseconds(100) };

    [Fact]
    public async Task Two_hosts_on_one_database_fire_each_tick_once()
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
        Assert.Equal(6, _recorder.All.Where(h => h.Message is Report).Select(h => h.MessageId).Distinct().Count());
        var status = (await one.Services.GetRequiredService<ISchedules>().ListAsync()).Single();
        Assert.Equal(first.AddMinutes(75), status.LastFiring);
    }

    [Fact]
    public async Task A_pause_on_one_host_holds_for_the_other_until_resumed()
    {
        var one = await StartSchedulerAsync();
        var two = await StartSchedulerAsync();
        await FireAtAsync(Start.AddMinutes(15), 1);

        await one.Services.GetRequiredService<ISchedules>().PauseAsync("report");
        Assert.True((await two.Services.GetRequiredService<ISchedules>().ListAsync()).Single().Paused);
        _time.SetUtcNow(Start.AddMinutes(50)); // 12:30 and 12:45 pass while paused
        await two.Services.GetRequiredService<ISchedules>().ResumeAsync("report");
        await FireAtAsync(Start.AddMinutes(60), 2);
        await DrainAsync();

        Assert.Equal([Start.AddMinutes(15), Start.AddMinutes(60)], Fired().Select(r => r.Tick.ToUniversalTime()));
    }

    private void UsePostgreSql(BusConfiguration bus)
    {
        bus.UsePostgreSql(o =>
        {
            o.ConnectionString = _schema.ConnectionString;
            o.Schema = _schema.Name;
            o.TimeProvider = _time;
        });
        bus.UsePostgreSqlStepStore(_schema.ConnectionString, _schema.Name);
    }

    private async Task<TestEndpoint> StartSchedulerAsync()
    {
        // No AllowInMemoryStores: the start-up check accepts the PostgreSQL schedule store as shared between hosts.
        var endpoint = await TestEndpoint.StartAsync("scheduler-" + Guid.NewGuid().ToString("N")[..6], _time, _ => { }, bus =>
        {
            UsePostgreSql(bus);
            bus.UsePostgreSqlScheduleStore(_schema.ConnectionString, _schema.Name);
            bus.RouteCommand<Report>(_sink);
            bus.Schedule<Report>("*/15 * * * *", TimeZoneInfo.Utc, tick => new Report(tick), o => o.Name = "report");
        });
        _endpoints.Add(endpoint);
        return endpoint;
    }

    /// <summary>Sets the clock to <paramref name="tick"/> and waits until <paramref name="count"/> reports arrived.</summary>
    private async Task FireAtAsync(DateTimeOffset tick, int count)
    {
        _time.SetUtcNow(tick);
        await new TimeDriver(_time, TimeSpan.FromSeconds(30)) { Step = TimeSpan.FromSeconds(1) }
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
        await _endpoints[0].Bus.SendAsync(new Drained(id), new DeliveryOptions { Destination = _sink });
        await Driver.AwaitAsync(_recorder.WhenAsync(all => all.Any(h => h.Message is Drained d && d.Id == id)));
    }

    private static int Count(IReadOnlyList<Handled> all) => all.Count(h => h.Message is Report);

    private List<Report> Fired() => _recorder.All.Select(h => h.Message).OfType<Report>().ToList();

    [MessageName("pg-tests.report")]
    public sealed record Report(DateTimeOffset Tick) : ICommand;

    [MessageName("pg-tests.drained")]
    public sealed record Drained(string Id) : ICommand;

    public sealed class ReportHandler(Recorder recorder) : IHandleMessages<Report>, IHandleMessages<Drained>
    {
        public Task HandleAsync(Report message, IMessageContext context)
        {
            recorder.Record(new Handled("report", message, context.MessageId, context.Headers, context.Attempt, "sink", default));
            return Task.CompletedTask;
        }

        public Task HandleAsync(Drained message, IMessageContext context)
        {
            recorder.Record(new Handled("drain", message, context.MessageId, context.Headers, context.Attempt, "sink", default));
            return Task.CompletedTask;
        }
    }
}

using System.Diagnostics.Metrics;
using System.Text;
using Bus.Conformance;
using Bus.Diagnostics;
using Bus.Hosting;
using Bus.Testing;
using Bus.Transports;
using Bus.Transports.InMemory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bus.Tests.Diagnostics;

/// <summary>Queue statistics in memory on a manual clock, from dependency injection, and as gauges on the Bus meter.</summary>
public sealed class QueueStatisticsTests
{
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task In_memory_counts_tell_in_flight_from_delayed_and_age_the_oldest_waiting_message()
    {
        var transport = new InMemoryTransport(new InMemoryBroker(_time));
        await transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), Message("a"))], default);
        _time.Advance(TimeSpan.FromMinutes(5));
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), Message("later"), _time.GetUtcNow() + TimeSpan.FromHours(1))], default);
        var held = Assert.Single(await transport.ReceiveAsync("q", 10, TimeSpan.FromMinutes(1), default));

        var counts = await transport.Statistics.GetAsync("q", default);

        Assert.Equal(new QueueStatistics("q", 0, 1, 1, 0, TimeSpan.FromMinutes(5), _time.GetUtcNow()), counts);

        _time.Advance(TimeSpan.FromMinutes(2)); // the lease ran out: ready again, older by two minutes
        counts = await transport.Statistics.GetAsync("q", default);
        Assert.Equal((1L, 0L, 1L, TimeSpan.FromMinutes(7)), (counts.Ready, counts.InFlight!.Value, counts.Delayed!.Value, counts.OldestMessageAge!.Value));

        var again = Assert.Single(await transport.ReceiveAsync("q", 10, TimeSpan.FromMinutes(1), default));
        await again.AbandonAsync(TimeSpan.FromMinutes(10), default); // a delayed retry is delayed, not in flight
        counts = await transport.Statistics.GetAsync("q", default);
        Assert.Equal((0L, 0L, 2L, (TimeSpan?)null), (counts.Ready, counts.InFlight!.Value, counts.Delayed!.Value, counts.OldestMessageAge));
        Assert.Equal(["q"], await transport.Statistics.ListQueuesAsync(default));
        await Assert.ThrowsAsync<LeaseLostException>(() => held.CompleteAsync(default));
    }

    [Fact]
    public async Task The_endpoint_serves_its_transport_statistics_and_the_gauges_report_them_tagged_by_queue()
    {
        var name = $"gauges-{Guid.NewGuid():N}"[..16];
        await using var harness = await BusTestHarness.StartAsync(
            bus =>
            {
                bus.EndpointName = name;
                bus.QueueStatisticsInterval = null; // only this test's sampler publishes readings of the queue
                bus.AddHandler<DoWorkHandler>();
                bus.Retry.ImmediateRetries = 0;
                bus.Retry.MaxAttempts = 1;
            },
            services => services.AddSingleton(new Recorder()));
        await harness.SendAsync(new DoWork("m", "dies", "throw"));
        var statistics = harness.Services.GetRequiredService<IQueueStatistics>();
        Assert.Equal(1, (await statistics.GetAsync(name, default)).DeadLettered);

        using var listener = new MeterListener();
        var seen = new Dictionary<string, double>();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == BusTelemetry.Name && instrument.Name.StartsWith("bus.queue.", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "bus.queue" && (string?)tag.Value == name)
                {
                    seen[instrument.Name] = value;
                }
            }
        }

        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.Start();

        var sampler = new QueueStatisticsSampler(statistics, name, TimeSpan.FromSeconds(30), harness.Time, NullLogger.Instance);
        await sampler.SampleAsync(default);
        listener.RecordObservableInstruments();

        Assert.Equal(1, seen["bus.queue.dead_lettered"]);
        Assert.Equal(0, seen["bus.queue.ready"]);
        Assert.Equal(0, seen["bus.queue.in_flight"]);
        Assert.Equal(0, seen["bus.queue.delayed"]);
        Assert.False(seen.ContainsKey("bus.queue.oldest_age"), "an empty queue has no oldest message");
    }

    [Fact]
    public void A_statistics_interval_under_a_second_is_refused_with_what_to_set()
    {
        var error = Assert.Throws<BusConfigurationException>(() => new ServiceCollection().AddBus(bus =>
        {
            bus.EndpointName = "x";
            bus.UseInMemoryTransport();
            bus.QueueStatisticsInterval = TimeSpan.FromMilliseconds(10);
        }));

        Assert.Contains("QueueStatisticsInterval must be at least 1 second, or null", error.Message);
    }

    [Fact]
    public async Task A_transport_without_statistics_says_so_from_dependency_injection()
    {
        var services = new ServiceCollection().AddBus(bus =>
        {
            bus.EndpointName = "x";
            bus.UseTransport(_ => new Support.FaultyTransport(new InMemoryTransport(new InMemoryBroker(_time))));
        }).BuildServiceProvider();

        var error = await Assert.ThrowsAsync<NotSupportedException>(() => services.GetRequiredService<IQueueStatistics>().GetAsync("x", default));

        Assert.Contains("does not report queue statistics", error.Message);
    }

    private static TransportMessage Message(string body) =>
        new(new Dictionary<string, string> { [MessageHeaders.MessageId] = Guid.NewGuid().ToString() }, Encoding.UTF8.GetBytes(body));
}

using System.Threading.Channels;
using Bus.Conformance;
using Bus.Diagnostics.Health;
using Bus.Hosting;
using Bus.Testing;
using Bus.Transports;
using Bus.Transports.InMemory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bus.Tests.Diagnostics;

/// <summary><c>AddBusHealthChecks()</c>: transport reachable, receive loop alive, dead letters over a threshold.</summary>
public sealed class BusHealthCheckTests
{
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task A_running_endpoint_is_healthy_and_a_dead_letter_over_the_threshold_degrades_it()
    {
        await using var harness = await StartHarnessAsync(o => o.DeadLetterThreshold = 0);
        var report = await CheckAsync(harness.Services);
        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Equal(0L, report.Entries[BusHealthChecksBuilderExtensions.TransportCheck].Data["ready"]);

        await harness.SendAsync(new DoWork("m", "dies", "throw"));
        report = await CheckAsync(harness.Services);

        Assert.Equal(HealthStatus.Degraded, report.Status);
        var dead = report.Entries[BusHealthChecksBuilderExtensions.DeadLetterCheck];
        Assert.Equal(HealthStatus.Degraded, dead.Status);
        Assert.Contains("holds 1 dead letters (threshold 0)", dead.Description);
        Assert.Equal(1L, dead.Data["deadLettered"]);
        Assert.Equal(HealthStatus.Healthy, report.Entries[BusHealthChecksBuilderExtensions.ReceiveLoopCheck].Status);
    }

    [Fact]
    public async Task Dead_letters_up_to_the_threshold_are_healthy()
    {
        await using var harness = await StartHarnessAsync(o => o.DeadLetterThreshold = 1);
        await harness.SendAsync(new DoWork("m", "dies", "throw"));

        var report = await CheckAsync(harness.Services);

        Assert.Equal(HealthStatus.Healthy, report.Entries[BusHealthChecksBuilderExtensions.DeadLetterCheck].Status);
    }

    [Fact]
    public async Task An_unreachable_transport_is_unhealthy_and_failing_receives_make_the_receive_loop_unhealthy()
    {
        var transport = new UnreachableTransport(new InMemoryTransport(new InMemoryBroker(_time))) { Down = true };
        await using var endpoint = await TestEndpoint.StartAsync(
            "down-" + Guid.NewGuid().ToString("N")[..8], _time,
            s => s.AddSingleton(new Recorder()).AddLogging().AddHealthChecks().AddBusHealthChecks(o => o.FailedReceivesBeforeUnhealthy = 3),
            bus =>
            {
                bus.UseTransport(_ => transport);
                bus.AddHandler<DoWorkHandler>();
            });

        var report = await CheckAsync(endpoint.Services);
        var reach = report.Entries[BusHealthChecksBuilderExtensions.TransportCheck];
        Assert.Equal(HealthStatus.Unhealthy, reach.Status);
        Assert.Contains("did not answer", reach.Description);
        Assert.IsType<IOException>(reach.Exception);

        // Each failed receive backs off on the clock: let three fail, and see the fourth attempt start.
        for (var i = 0; i < 4; i++)
        {
            await transport.FailedReceives.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            _time.Advance(TimeSpan.FromSeconds(31));
        }

        var loop = (await CheckAsync(endpoint.Services)).Entries[BusHealthChecksBuilderExtensions.ReceiveLoopCheck];
        Assert.Equal(HealthStatus.Unhealthy, loop.Status);
        Assert.Contains("receives failed: broker unreachable", loop.Description);
        transport.Down = false;
        await endpoint.StopAsync();
        loop = (await CheckAsync(endpoint.Services)).Entries[BusHealthChecksBuilderExtensions.ReceiveLoopCheck];
        Assert.Contains("stopped receiving", loop.Description);
    }

    [Fact]
    public async Task A_send_only_endpoint_has_a_healthy_receive_loop_and_an_unstarted_one_does_not()
    {
        var services = new ServiceCollection()
            .AddSingleton<TimeProvider>(_time)
            .AddLogging()
            .AddBus(bus =>
            {
                bus.EndpointName = "sender";
                bus.UseInMemoryTransport(new InMemoryBroker(_time));
            });
        services.AddHealthChecks().AddBusHealthChecks();
        await using var provider = services.BuildServiceProvider();

        var before = (await CheckAsync(provider)).Entries[BusHealthChecksBuilderExtensions.ReceiveLoopCheck];
        Assert.Equal(HealthStatus.Unhealthy, before.Status);
        Assert.Contains("has not started", before.Description);

        var host = provider.GetRequiredService<BusHost>();
        await host.StartAsync(default);
        var after = (await CheckAsync(provider)).Entries[BusHealthChecksBuilderExtensions.ReceiveLoopCheck];
        await host.StopAsync(default);

        Assert.Equal(HealthStatus.Healthy, after.Status);
        Assert.Contains("Send-only", after.Description);
    }

    [Theory]
    [InlineData(-1L, 3, 10, "DeadLetterThreshold must be 0 or more")]
    [InlineData(0L, 0, 10, "FailedReceivesBeforeUnhealthy must be at least 1")]
    [InlineData(0L, 3, 0, "Timeout must be between 1 second and 5 minutes")]
    public void Options_out_of_range_are_refused_with_what_to_set(long threshold, int failures, int timeoutSeconds, string expected)
    {
        var builder = new ServiceCollection().AddHealthChecks();

        var error = Assert.Throws<ArgumentException>(() => builder.AddBusHealthChecks(o =>
        {
            o.DeadLetterThreshold = threshold;
            o.FailedReceivesBeforeUnhealthy = failures;
            o.Timeout = TimeSpan.FromSeconds(timeoutSeconds);
        }));

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void A_healthy_dead_letter_status_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddHealthChecks().AddBusHealthChecks(o => o.DeadLetterStatus = HealthStatus.Healthy));

        Assert.Contains("DeadLetterStatus must be Degraded or Unhealthy", error.Message);
    }

    private Task<BusTestHarness> StartHarnessAsync(Action<BusHealthCheckOptions> configure) =>
        BusTestHarness.StartAsync(
            bus =>
            {
                bus.AddHandler<DoWorkHandler>();
                bus.Retry.ImmediateRetries = 0;
                bus.Retry.MaxAttempts = 1;
            },
            services => services.AddSingleton(new Recorder()).AddLogging().AddHealthChecks().AddBusHealthChecks(configure),
            _time);

    private static Task<HealthReport> CheckAsync(IServiceProvider services) =>
        services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

    /// <summary>A transport whose broker can be made unreachable: receives and statistics then fail; each failed receive
    /// is announced.</summary>
    private sealed class UnreachableTransport(InMemoryTransport inner) : ITransport, IQueueStatistics
    {
        public volatile bool Down;

        public Channel<int> FailedReceives { get; } = Channel.CreateUnbounded<int>();

        public TransportCapabilities Capabilities => inner.Capabilities;

        public IDeadLetterQueue DeadLetters => inner.DeadLetters;

        public IQueueStatistics Statistics => this;

        public Task ProvisionAsync(TransportTopology topology, CancellationToken cancellationToken) => inner.ProvisionAsync(topology, cancellationToken);

        public Task SendAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken) => inner.SendAsync(messages, cancellationToken);

        public ValueTask<IReadOnlyList<IReceivedMessage>> ReceiveAsync(string queue, int maxMessages, TimeSpan leaseDuration, CancellationToken cancellationToken)
        {
            if (Down)
            {
                FailedReceives.Writer.TryWrite(0);
                throw new IOException("broker unreachable");
            }

            return inner.ReceiveAsync(queue, maxMessages, leaseDuration, cancellationToken);
        }

        public Task<IReadOnlyList<string>> ListQueuesAsync(CancellationToken cancellationToken) => Down ? throw new IOException("broker unreachable") : inner.ListQueuesAsync(cancellationToken);

        public Task<QueueStatistics> GetAsync(string queue, CancellationToken cancellationToken) => Down ? throw new IOException("broker unreachable") : inner.GetAsync(queue, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}

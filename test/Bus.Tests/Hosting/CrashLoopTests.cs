using Bus.Conformance;
using Bus.Hosting;
using Bus.Testing;
using Bus.Tests.Support;
using Bus.Transports;
using Bus.Transports.InMemory;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Tests.Hosting;

/// <summary>A message whose handler kills its process is received again and again without ever failing an attempt:
/// past <see cref="Recoverability.RetryPolicy.MaxReceiveCount"/> it is dead-lettered unhandled, with a reason saying so.</summary>
public sealed class CrashLoopTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 1, 5, 12, 0, 0, TimeSpan.Zero));
    private readonly Recorder _recorder = new();
    private readonly BusProbe _probe = new();
    private readonly string _queue = "crashloop-" + Guid.NewGuid().ToString("N")[..8];
    private TestEndpoint? _endpoint;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_endpoint is not null)
        {
            await new TimeDriver(_time, TimeSpan.FromSeconds(30)).AwaitAsync(_endpoint.StopAsync());
            await _endpoint.DisposeAsync();
        }

        _probe.Dispose();
    }

    [Theory]
    [InlineData(null, 25, true)]   // default cap: MaxAttempts (5) + 20
    [InlineData(null, 24, false)]
    [InlineData(8, 8, true)]
    [InlineData(8, 7, false)]
    public async Task A_message_received_past_the_cap_is_dead_lettered_before_its_handler_runs(int? cap, int earlierReceives, bool deadLettered)
    {
        var endpoint = await StartAsync(bus => bus.Retry.MaxReceiveCount = cap, earlierReceives);

        await endpoint.Bus.SendAsync(new DoWork("t", "crash-loop"));

        if (deadLettered)
        {
            await _probe.WhenAsync(_queue, "bus.messages.dead_lettered", 1).WaitAsync(TimeSpan.FromSeconds(10));
            var dead = Assert.Single(await endpoint.DeadLetters.PeekAsync(_queue, 10, default));
            Assert.StartsWith($"Received {earlierReceives + 1} times without being settled", dead.Failure.Reason);
            Assert.Contains("crashed or stalled", dead.Failure.Reason);
            Assert.Empty(_recorder.All);
        }
        else
        {
            await _probe.WhenAsync(_queue, "bus.messages.completed", 1).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(earlierReceives + 1, Assert.Single(_recorder.All).Attempt);
        }
    }

    [Fact]
    public void A_cap_that_does_not_exceed_the_attempts_is_refused_with_the_reason()
    {
        var policy = new Recoverability.RetryPolicy { MaxAttempts = 5, MaxReceiveCount = 5 };

        var error = Assert.Throws<BusConfigurationException>(policy.Validate);

        Assert.Contains("MaxReceiveCount (5) must exceed MaxAttempts (5)", error.Message);
    }

    private async Task<TestEndpoint> StartAsync(Action<BusConfiguration> configure, int earlierReceives)
    {
        var broker = new InMemoryBroker(_time);
        _endpoint = await TestEndpoint.StartAsync(_queue, _time,
            services => services.AddSingleton(_recorder),
            bus =>
            {
                bus.UseTransport(_ => new FaultyTransport(new InMemoryTransport(broker)) { EarlierReceives = earlierReceives });
                bus.AddHandler<DoWorkHandler>();
                configure(bus);
            });
        return _endpoint;
    }
}

using System.Text;
using Bus.Hosting;
using Bus.Leases;
using Bus.Transports;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Bus.Conformance;

/// <summary>
/// The behaviour every transport gives a bus endpoint: routing, fan-out, headers, delays, retries, dead letters,
/// leases, redrive, graceful stop and concurrency. A transport's test project subclasses it and supplies the
/// transport. On a <see cref="Testing.ManualTimeProvider"/>, time passes only while a test waits. The tests are split
/// by topic: routing and delivery, recoverability (retries, dead letters, redrive), leases and shutdown, long jobs.
/// </summary>
public abstract partial class BusConformanceTests : IAsyncLifetime
{
    private readonly List<TestEndpoint> _endpoints = [];

    /// <summary>Ties messages to this test, so parallel tests sharing topics ignore each other's.</summary>
    protected string TestId { get; } = Guid.NewGuid().ToString("N")[..12];

    /// <summary>Handlers report here.</summary>
    protected Recorder Recorder { get; } = new();

    /// <summary>Counts the bus's measurements.</summary>
    protected BusProbe Probe { get; } = new();

    /// <summary>The clock the transport and buses run on.</summary>
    protected abstract TimeProvider Time { get; }

    /// <summary>Lets time pass while awaiting.</summary>
    protected TimeDriver Driver => new(Time, Patience);

    /// <summary>How long (real time) to wait for anything.</summary>
    protected virtual TimeSpan Patience => TimeSpan.FromSeconds(30);

    /// <summary>A lease short enough to expire within a test.</summary>
    protected virtual TimeSpan ShortLease => TimeSpan.FromSeconds(2);

    /// <summary>The step store every endpoint of a test shares, as workers share a durable store in production.</summary>
    protected virtual Steps.IStepStore StepStore { get; } = new Steps.InMemoryStepStore();

    /// <summary>Configures the transport of an endpoint; every endpoint of a test must reach the same broker.</summary>
    protected abstract void UseTransport(BusConfiguration bus);

    /// <summary>Registers services the transport needs (optional).</summary>
    protected virtual void AddServices(IServiceCollection services)
    {
    }

    /// <inheritdoc />
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        foreach (var endpoint in _endpoints)
        {
            await Driver.AwaitAsync(endpoint.StopAsync());
            await endpoint.DisposeAsync();
        }

        Probe.Dispose();
    }

    /// <summary>Starts an endpoint with the suite's handlers and fast retries.</summary>
    protected async Task<TestEndpoint> StartEndpointAsync(string hint, Action<BusConfiguration>? configure = null)
    {
        var name = $"{hint}-{TestId}";
        var endpoint = await TestEndpoint.StartAsync(name, Time,
            services =>
            {
                services.AddSingleton(Recorder);
                services.AddSingleton(StepStore);
                AddServices(services);
            },
            bus =>
            {
                UseTransport(bus);
                bus.AllowInMemoryStores = true; // the endpoints of a test share one store in this process
                bus.MaxConcurrency = 4;
                bus.Prefetch = 4;
                bus.ShutdownTimeout = TimeSpan.FromSeconds(5);
                bus.Retry.MaxAttempts = 3;
                bus.Retry.ImmediateRetries = 1;
                bus.Retry.InitialDelay = TimeSpan.FromSeconds(1);
                bus.Retry.MaxDelay = TimeSpan.FromSeconds(2);
                bus.Profile = bus.Profile with { LeaseDuration = ShortLease * 5, HeartbeatInterval = ShortLease };
                configure?.Invoke(bus);
            });
        _endpoints.Add(endpoint);
        return endpoint;
    }

    private Task WaitForAsync(Func<IReadOnlyList<Handled>, bool> condition) => Driver.AwaitAsync(Recorder.WhenAsync(condition));

    private Task WaitForCountAsync(TestEndpoint endpoint, string instrument, long atLeast) =>
        Driver.AwaitAsync(Probe.WhenAsync(endpoint.Name, instrument, atLeast));

    /// <summary>Awaits <paramref name="done"/> while a manual clock moves on one heartbeat at a time: by at most
    /// <paramref name="heartbeatInterval"/>, then not again until the next lease renewal on <paramref name="endpoint"/>
    /// was made. A handler's lease renewed every interval then outlives the test's clock however busy the machine is (the
    /// clock stays within about two intervals of the last renewal), where a clock moving at real time's pace can run past
    /// the lease while a renewal waits for the CPU. Start it once the handler runs (awaited with the clock moved by at
    /// most one interval), so its first heartbeat falls due within the first step.</summary>
    private async Task AwaitHeartbeatByHeartbeatAsync(TestEndpoint endpoint, TimeSpan heartbeatInterval, Task done)
    {
        for (var renewals = Probe.Count(endpoint.Name, "bus.lease.renewals") + 1; !done.IsCompleted; renewals++)
        {
            await Driver.AwaitAsync(Task.WhenAny(done, Probe.WhenAsync(endpoint.Name, "bus.lease.renewals", renewals)), heartbeatInterval);
        }

        await done;
    }

    private IEnumerable<Handled> Mine(IReadOnlyList<Handled> all) =>
        all.Where(h => h.Message is DoWork w ? w.Test == TestId : h.Message is WorkDone d && d.Test == TestId);

    private async Task<DeadLetter> SingleDeadLetterAsync(TestEndpoint endpoint)
    {
        await WaitForCountAsync(endpoint, "bus.messages.dead_lettered", 1);
        return Assert.Single(await endpoint.DeadLetters.PeekAsync(endpoint.Name, 10, default));
    }


    /// <summary>A raw transport message with a bus type header and the given body.</summary>
    protected static OutgoingMessage Raw(string queue, string wireName, string body, string? version = null)
    {
        var headers = new Dictionary<string, string>
        {
            [MessageHeaders.MessageId] = Guid.NewGuid().ToString(),
            [MessageHeaders.MessageType] = wireName,
        };
        if (version is not null)
        {
            headers[MessageHeaders.MessageVersion] = version;
        }

        return new(Destination.Queue(queue), new TransportMessage(headers, Encoding.UTF8.GetBytes(body)));
    }

    private static async Task<IReceivedMessage?> ReceiveOneAsync(TestEndpoint endpoint)
    {
        while (true)
        {
            var received = await endpoint.Transport.ReceiveAsync(endpoint.Name, 1, TimeSpan.FromSeconds(2), default);
            if (received.Count > 0)
            {
                return received[0];
            }
        }
    }
}

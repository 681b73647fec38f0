using Azure.Messaging.ServiceBus;
using Azure.Messaging.ServiceBus.Administration;
using Bus.AzureServiceBus.Tests.Fake;
using Bus.Conformance;
using Bus.Hosting;
using Bus.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.AzureServiceBus.Tests.Conformance;

/// <summary>
/// A bus endpoint on the fake namespace whose handler runs for several of the entity's LockDurations: the lease renewer
/// keeps the broker's lock by renewing at half the lock duration (Service Bus fixes the lock per entity, whatever the
/// execution profile's heartbeat says), so the message is neither redelivered nor its lease lost. All on the manual clock.
/// </summary>
public sealed class ServiceBusLockRenewalTests : IAsyncDisposable
{
    /// <summary>The entity LockDuration: short, so the handler outlives it three times over.</summary>
    private static readonly TimeSpan LockDuration = TimeSpan.FromSeconds(10);

    private readonly ManualTimeProvider _time = new();
    private readonly FakeServiceBus _fake;
    private readonly Recorder _recorder = new();
    private readonly BusProbe _probe = new();
    private readonly TimeDriver _driver;
    private readonly string _testId = Guid.NewGuid().ToString("N")[..12];
    private TestEndpoint? _endpoint;

    public ServiceBusLockRenewalTests()
    {
        _fake = new FakeServiceBus(_time) { Latency = TimeSpan.FromMilliseconds(5) };
        _driver = new TimeDriver(_time, TimeSpan.FromSeconds(30));
    }

    public async ValueTask DisposeAsync()
    {
        if (_endpoint is not null)
        {
            await _driver.AwaitAsync(_endpoint.StopAsync());
            await _endpoint.DisposeAsync();
        }

        _probe.Dispose();
    }

    [Fact]
    public async Task A_handler_running_three_lock_durations_keeps_its_lock_with_renewals_every_half_lock_duration()
    {
        _endpoint = await TestEndpoint.StartAsync($"renew-{_testId}", _time, services =>
        {
            services.AddSingleton(_recorder);
            services.AddSingleton<ServiceBusClient>(new FakeServiceBusClient(_fake));
            services.AddSingleton<ServiceBusAdministrationClient>(new FakeServiceBusAdministrationClient(_fake));
        }, bus =>
        {
            bus.AllowInMemoryStores = true; // one host, no steps or workflows
            bus.UseAzureServiceBus(o =>
            {
                o.LockDuration = LockDuration;
                o.ReceiveTimeout = TimeSpan.FromSeconds(1);
            });
            bus.AddHandler<SlowHandler>(); // the default profile: heartbeat 20 s, max runtime 10 min
        });
        Assert.Equal(LockDuration, _fake.QueueSettingsOf(_endpoint.Name)!.LockDuration);

        await _endpoint.Bus.SendAsync(new DoWork(_testId, "slow"));
        await _driver.AwaitAsync(_probe.WhenAsync(_endpoint.Name, "bus.messages.completed", 1));

        var handled = _recorder.All.Where(h => h.Message is DoWork { Id: "slow" }).ToList();
        Assert.Equal(["started", "finished"], handled.Select(h => h.Handler));
        Assert.All(handled, h => Assert.Equal(1, h.Attempt));
        Assert.InRange(handled[1].At - handled[0].At, SlowHandler.Runtime, SlowHandler.Runtime + TimeSpan.FromSeconds(0.5));
        Assert.Equal(0, _probe.Count(_endpoint.Name, "bus.lease.lost"));
        Assert.Empty(_fake.MessagesIn(_endpoint.Name));

        // RenewMessageLockAsync calls while the handler ran, up to the completion.
        var calls = _fake.Calls.Where(c => c.Entity == _endpoint.Name).ToList();
        var renewals = calls.Where(c => c.Operation == "RenewLock").Select(c => c.At).ToList();
        var completed = Assert.Single(calls, c => c.Operation == "Complete").At;
        var started = handled[0].At; // a few milliseconds after the receive that locked the message

        Assert.InRange(renewals.Count, 5, 7); // 30 s of handling at one renewal per 5 s
        var half = LockDuration / 2;
        // Renewals are counted from the lock, which the handler's start follows by however long the message waited for
        // a worker (on a loaded machine the test's clock can move meanwhile): the first one comes at most half a lock
        // duration after the start, the others every half lock duration.
        Assert.InRange(renewals[0] - started, TimeSpan.Zero, half + TimeSpan.FromSeconds(0.5));
        var gaps = renewals.Zip(renewals.Skip(1), (before, after) => after - before).ToList();
        Assert.All(gaps, gap => Assert.InRange(gap, half - TimeSpan.FromSeconds(1), half + TimeSpan.FromSeconds(0.5)));
        Assert.InRange(completed - renewals[^1], TimeSpan.Zero, half + TimeSpan.FromSeconds(0.5)); // the lock never ran out
    }

    /// <summary>Records when it starts and finishes; in between it waits <see cref="Runtime"/> on the clock.</summary>
    private sealed class SlowHandler(Recorder recorder, TimeProvider time) : IHandleMessages<DoWork>
    {
        public static readonly TimeSpan Runtime = TimeSpan.FromSeconds(30);

        public async Task HandleAsync(DoWork message, IMessageContext context)
        {
            recorder.Record(new Handled("started", message, context.MessageId, context.Headers, context.Attempt, context.Queue, time.GetUtcNow()));
            await Task.Delay(Runtime, time, context.CancellationToken);
            recorder.Record(new Handled("finished", message, context.MessageId, context.Headers, context.Attempt, context.Queue, time.GetUtcNow()));
        }
    }
}

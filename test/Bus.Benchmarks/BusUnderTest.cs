using Bus.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bus.Benchmarks;

/// <summary>Bus on its in-memory transport, hosted without a generic host (like the conformance suite's endpoints).</summary>
public sealed class BusUnderTest : IBenchmarkBus
{
    private readonly ServiceProvider _services;
    private readonly IHostedService[] _hosted;
    private readonly IBus _bus;

    private BusUnderTest(ServiceProvider services, HandledSignal signal)
    {
        _services = services;
        _hosted = services.GetServices<IHostedService>().ToArray();
        _bus = services.GetRequiredService<IBus>();
        Signal = signal;
    }

    /// <inheritdoc />
    public HandledSignal Signal { get; }

    /// <summary>The factory for the table.</summary>
    public static BusFactory Factory { get; } = new("Bus", StartAsync);

    /// <summary>Builds and starts a bus endpoint named "bench" with the no-op handler.</summary>
    public static async Task<IBenchmarkBus> StartAsync(int? concurrency)
    {
        var bus = Build(concurrency);
        await bus.StartReceivingAsync().ConfigureAwait(false);
        return bus;
    }

    /// <summary>Builds a bus endpoint named "bench" with the no-op handler that sends but does not receive until
    /// <see cref="StartReceivingAsync"/>.</summary>
    public static BusUnderTest Build(int? concurrency)
    {
        var signal = new HandledSignal();
        var services = new ServiceCollection();
        services.AddSingleton(signal);
        services.AddBus(bus =>
        {
            bus.EndpointName = "bench";
            bus.UseInMemoryTransport();
            bus.AddHandler<NoOpHandler>();
            if (concurrency is { } limit)
            {
                bus.MaxConcurrency = limit;
            }
        });
        return new BusUnderTest(services.BuildServiceProvider(), signal);
    }

    /// <summary>Starts the endpoint: it receives from then on.</summary>
    public async Task StartReceivingAsync()
    {
        foreach (var hosted in _hosted)
        {
            await hosted.StartAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public Task SendAsync(PingCommand command) => _bus.SendAsync(command);

    /// <inheritdoc />
    public Task PublishAsync(PingEvent @event) => _bus.PublishAsync(@event);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var hosted in _hosted.Reverse())
        {
            await hosted.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        await _services.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Counts and returns.</summary>
    private sealed class NoOpHandler(HandledSignal signal) : IHandleMessages<PingCommand>, IHandleMessages<PingEvent>
    {
        public Task HandleAsync(PingCommand message, IMessageContext context)
        {
            signal.OnHandled();
            return Task.CompletedTask;
        }

        public Task HandleAsync(PingEvent message, IMessageContext context)
        {
            signal.OnHandled();
            return Task.CompletedTask;
        }
    }
}

using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bus.Benchmarks;

/// <summary>MassTransit 8 on its in-memory transport, with default settings: System.Text.Json serialization, the
/// default concurrency unless one is given.</summary>
public sealed class MassTransitUnderTest : IBenchmarkBus
{
    private const string QueueName = "bench-mt";
    private readonly ServiceProvider _services;
    private readonly IBusControl _bus;
    private readonly ISendEndpoint _queue;

    private MassTransitUnderTest(ServiceProvider services, IBusControl bus, ISendEndpoint queue, HandledSignal signal)
    {
        _services = services;
        _bus = bus;
        _queue = queue;
        Signal = signal;
    }

    /// <inheritdoc />
    public HandledSignal Signal { get; }

    /// <summary>The factory for the table.</summary>
    public static BusFactory Factory { get; } = new("MassTransit", StartAsync);

    /// <summary>Builds and starts a bus with one receive endpoint and the no-op consumer.</summary>
    public static async Task<IBenchmarkBus> StartAsync(int? concurrency)
    {
        var signal = new HandledSignal();
        var services = new ServiceCollection();
        services.AddSingleton(signal);
        services.AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddMassTransit(configure =>
        {
            configure.AddConsumer<NoOpConsumer>();
            configure.UsingInMemory((context, transport) =>
            {
                transport.ReceiveEndpoint(QueueName, endpoint =>
                {
                    if (concurrency is { } limit)
                    {
                        endpoint.ConcurrentMessageLimit = limit;
                    }

                    endpoint.ConfigureConsumer<NoOpConsumer>(context);
                });
            });
        });
        var provider = services.BuildServiceProvider();
        var bus = provider.GetRequiredService<IBusControl>();
        await bus.StartAsync(CancellationToken.None).ConfigureAwait(false);
        var queue = await bus.GetSendEndpoint(new Uri($"queue:{QueueName}")).ConfigureAwait(false);
        return new MassTransitUnderTest(provider, bus, queue, signal);
    }

    /// <inheritdoc />
    public Task SendAsync(PingCommand command) => _queue.Send(command);

    /// <inheritdoc />
    public Task PublishAsync(PingEvent @event) => _bus.Publish(@event);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _bus.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _services.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Counts and returns.</summary>
    private sealed class NoOpConsumer(HandledSignal signal) : IConsumer<PingCommand>, IConsumer<PingEvent>
    {
        public Task Consume(ConsumeContext<PingCommand> context)
        {
            signal.OnHandled();
            return Task.CompletedTask;
        }

        public Task Consume(ConsumeContext<PingEvent> context)
        {
            signal.OnHandled();
            return Task.CompletedTask;
        }
    }
}

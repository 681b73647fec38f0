using Bus.Hosting;
using Bus.Serialization;
using Bus.Transports;
using Bus.Transports.InMemory;
using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bus.Testing;

/// <summary>
/// Hosts a real bus endpoint for a unit test: in-memory transport, <see cref="ManualTimeProvider"/>, the real
/// pipeline (retries, dead letters, workflows). Every outgoing message is recorded. Each send waits until the
/// endpoint is idle (nothing due, nothing running), and <see cref="AdvanceTimeAsync"/> moves the clock through due
/// timeouts and retries one at a time, so tests never sleep.
/// </summary>
/// <example>
/// <code>
/// await using var harness = await BusTestHarness.StartAsync(bus => bus.AddWorkflow&lt;OrderWorkflow&gt;());
/// await harness.SendAsync(new PlaceOrder("o-1"));
/// await harness.AdvanceTimeAsync(TimeSpan.FromMinutes(30));
/// Assert.Single(harness.Published&lt;OrderCancelled&gt;());
/// </code>
/// </example>
public sealed class BusTestHarness : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly HarnessTransport _transport;
    private readonly IHostedService[] _hosted;
    private readonly BusConfiguration _config;
    private bool _stopped;

    private BusTestHarness(ServiceProvider services, ManualTimeProvider time)
    {
        _services = services;
        Time = time;
        _config = services.GetRequiredService<BusConfiguration>();
        _transport = (HarnessTransport)services.GetRequiredService<ITransport>();
        _hosted = services.GetServices<IHostedService>().ToArray();
    }

    /// <summary>The endpoint's name (its queue); "harness" unless the configuration sets one.</summary>
    public string EndpointName => _config.EndpointName!;

    /// <summary>The clock of the bus; it moves only through <see cref="AdvanceTimeAsync"/> (or by hand).</summary>
    public ManualTimeProvider Time { get; }

    /// <summary>The endpoint's services, e.g. to resolve a fake the handlers use.</summary>
    public IServiceProvider Services => _services;

    /// <summary>The bus; sends through it do not wait (use the harness's own send methods to wait until idle).</summary>
    public IBus Bus => _services.GetRequiredService<IBus>();

    /// <summary>How long (real time) to wait for the endpoint to become idle before failing. Default 30 seconds.</summary>
    public TimeSpan Patience { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Every message sent or published, by the test or by handlers, in order.</summary>
    public IReadOnlyList<RecordedMessage> Outgoing => _transport.Recorded;

    /// <summary>Messages sent with a delay (workflow timeouts, scheduled sends), in order.</summary>
    public IReadOnlyList<RecordedMessage> Scheduled => Outgoing.Where(m => m.IsDelayed).ToList();

    /// <summary>Starts a harness endpoint. <paramref name="configure"/> adds handlers, workflows, routes and
    /// policies; the transport is always the harness's in-memory one.</summary>
    public static async Task<BusTestHarness> StartAsync(Action<BusConfiguration> configure, Action<IServiceCollection>? services = null, ManualTimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var clock = time ?? new ManualTimeProvider();
        var collection = new ServiceCollection();
        collection.AddSingleton<TimeProvider>(clock);
        services?.Invoke(collection);
        collection.AddBus(bus =>
        {
            bus.EndpointName = "harness";
            bus.MaxConcurrency = 4;
            configure(bus);
            bus.UseTransport(sp => new HarnessTransport(new InMemoryTransport(new InMemoryBroker(clock)), clock));
        });
        var harness = new BusTestHarness(collection.BuildServiceProvider(validateScopes: true), clock);
        foreach (var hosted in harness._hosted)
        {
            await hosted.StartAsync(CancellationToken.None).ConfigureAwait(false);
        }

        return harness;
    }

    /// <summary>Sends a command (to its route, else this endpoint) and waits until the endpoint is idle.</summary>
    public async Task SendAsync<TCommand>(TCommand command, DeliveryOptions? options = null)
        where TCommand : class
    {
        await Bus.SendAsync(command, options).ConfigureAwait(false);
        await WaitForIdleAsync().ConfigureAwait(false);
    }

    /// <summary>Publishes an event and waits until the endpoint is idle.</summary>
    public async Task PublishAsync<TEvent>(TEvent @event, DeliveryOptions? options = null)
        where TEvent : class
    {
        await Bus.PublishAsync(@event, options).ConfigureAwait(false);
        await WaitForIdleAsync().ConfigureAwait(false);
    }

    /// <summary>Delivers a foreign payload (no bus headers unless given), e.g. an EventBridge event as JSON, to this
    /// endpoint's queue as a broker would, and waits until the endpoint is idle.</summary>
    public async Task DeliverRawAsync(string json, IReadOnlyDictionary<string, string>? headers = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        var message = new TransportMessage(headers, System.Text.Encoding.UTF8.GetBytes(json));
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue(EndpointName), message)], CancellationToken.None).ConfigureAwait(false);
        await WaitForIdleAsync().ConfigureAwait(false);
    }

    /// <summary>Waits until no message of this endpoint is due now or being handled.</summary>
    /// <exception cref="TimeoutException">Not idle within <see cref="Patience"/> (e.g. a handler waits for something that never happens).</exception>
    public async Task WaitForIdleAsync()
    {
        var started = DateTime.UtcNow;
        while (!_transport.IsIdle(out var changed, out var busy))
        {
            var left = Patience - (DateTime.UtcNow - started);
            try
            {
                await changed.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"Endpoint '{EndpointName}' still had {busy} message(s) due or running after {Patience} (clock at {Time.GetUtcNow():O}).");
            }
        }
    }

    /// <summary>Moves the clock forward by <paramref name="delta"/>, stopping at each due message (timeouts, delayed
    /// retries, scheduled sends) and waiting until it and what it caused are handled.</summary>
    public async Task AdvanceTimeAsync(TimeSpan delta)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delta, TimeSpan.Zero);
        await WaitForIdleAsync().ConfigureAwait(false);
        var target = Time.GetUtcNow() + delta;
        while (_transport.NextDue() is { } next && next <= target)
        {
            Time.Advance(next > Time.GetUtcNow() ? next - Time.GetUtcNow() : TimeSpan.Zero);
            await WaitForIdleAsync().ConfigureAwait(false);
        }

        if (target > Time.GetUtcNow())
        {
            Time.Advance(target - Time.GetUtcNow());
        }

        await WaitForIdleAsync().ConfigureAwait(false);
    }

    /// <summary>Commands of type <typeparamref name="TCommand"/> that handlers sent (to any queue, delayed or not).</summary>
    public IReadOnlyList<TCommand> Sent<TCommand>()
        where TCommand : class => Typed<TCommand>(DestinationKind.Queue);

    /// <summary>Events of type <typeparamref name="TEvent"/> that handlers published.</summary>
    public IReadOnlyList<TEvent> Published<TEvent>()
        where TEvent : class => Typed<TEvent>(DestinationKind.Topic);

    /// <summary>Reads a recorded message as its registered type.</summary>
    public object? Read(RecordedMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.MessageType is { } name && _config.Messages.TryResolve(name, out var type)
            ? _services.GetRequiredService<IMessageSerializer>().Deserialize(message.Message.Body.Span, type.ClrType)
            : null;
    }

    /// <summary>The dead letters of this endpoint.</summary>
    public Task<IReadOnlyList<DeadLetter>> DeadLettersAsync() => _transport.DeadLetters.PeekAsync(EndpointName, 1000, CancellationToken.None);

    /// <summary>The instance of <typeparamref name="TWorkflow"/> with this correlation value, or null.</summary>
    public Task<WorkflowSnapshot?> FindWorkflowAsync<TWorkflow>(string correlationValue)
        where TWorkflow : class => _services.GetRequiredService<IWorkflowStatusQuery>().FindAsync<TWorkflow>(correlationValue);

    /// <summary>The instance of <typeparamref name="TWorkflow"/> with this id, or null.</summary>
    public Task<WorkflowSnapshot?> GetWorkflowAsync<TWorkflow>(string id)
        where TWorkflow : class => _services.GetRequiredService<IWorkflowStatusQuery>().GetAsync<TWorkflow>(id);

    /// <summary>Stops the endpoint and releases its services.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            foreach (var hosted in _hosted.Reverse())
            {
                await hosted.StopAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }

        await _services.DisposeAsync().ConfigureAwait(false);
    }

    private List<T> Typed<T>(DestinationKind kind)
        where T : class =>
        Outgoing.Where(m => m.SentByHandler && m.Destination.Kind == kind)
            .Select(Read).OfType<T>().ToList();
}

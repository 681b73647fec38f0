using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Bus.Diagnostics;
using Bus.Hosting;
using Bus.Testing;
using Bus.Transports;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Bus.Conformance;

/// <summary>Awaits tasks while letting time pass: a <see cref="ManualTimeProvider"/> is advanced in small steps;
/// a real clock simply runs. Tests never sleep.</summary>
public sealed class TimeDriver(TimeProvider time, TimeSpan patience)
{
    /// <summary>The clock.</summary>
    public TimeProvider Time { get; } = time;

    /// <summary>How long (real time) to wait for anything before failing.</summary>
    public TimeSpan Patience { get; } = patience;

    /// <summary>The step a manual clock moves by while waiting.</summary>
    public TimeSpan Step { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Awaits <paramref name="task"/>, advancing a manual clock while it is not done.</summary>
    public async Task<T> AwaitAsync<T>(Task<T> task)
    {
        await AwaitAsync((Task)task);
        return await task;
    }

    /// <summary>Awaits <paramref name="task"/>, advancing a manual clock while it is not done; fails after <see cref="Patience"/>.</summary>
    public Task AwaitAsync(Task task) => AwaitAsync(task, maxAdvance: null);

    /// <summary>Awaits <paramref name="task"/>, advancing a manual clock while it is not done, but by no more than
    /// <paramref name="maxAdvance"/> in all: from there the clock stands still and the wait goes on in real time (up to
    /// <see cref="Patience"/>). A clock moved on real time's pace runs ahead of a busy machine; a test whose work must
    /// beat a deadline (a lease the next heartbeat renews, a max runtime) bounds each wait by less than that deadline's
    /// slack, so the work is awaited, not raced.</summary>
    public Task AwaitAsync(Task task, TimeSpan maxAdvance) => AwaitAsync(task, (TimeSpan?)maxAdvance);

    private async Task AwaitAsync(Task task, TimeSpan? maxAdvance)
    {
        if (Time is not ManualTimeProvider manual)
        {
            await task.WaitAsync(Patience);
            return;
        }

        var started = DateTime.UtcNow;
        var limit = maxAdvance is { } most ? manual.GetUtcNow() + most : DateTimeOffset.MaxValue;
        while (!task.IsCompleted)
        {
            if (DateTime.UtcNow - started > Patience)
            {
                throw new TimeoutException($"Gave up after {Patience} of real time (the manual clock reached {manual.GetUtcNow():O}).");
            }

            try
            {
                await task.WaitAsync(TimeSpan.FromMilliseconds(5));
            }
            catch (TimeoutException)
            {
                var left = limit - manual.GetUtcNow();
                if (left > TimeSpan.Zero)
                {
                    manual.Advance(left < Step ? left : Step);
                }
            }
        }

        await task;
    }
}

/// <summary>What handlers in the suite saw.</summary>
public sealed record Handled(string Handler, object Message, string MessageId, IReadOnlyDictionary<string, string> Headers, int Attempt, string Endpoint, DateTimeOffset At);

/// <summary>Collects what handlers saw and lets tests await conditions on it; also holds gates that block handlers.</summary>
public sealed class Recorder
{
    private readonly ConcurrentQueue<Handled> _handled = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _gates = new();
    private readonly ConcurrentQueue<(string Job, int Step)> _steps = new();
    private readonly object _gate = new();
    private List<(Func<IReadOnlyList<Handled>, bool> Condition, TaskCompletionSource Done)> _waiters = [];
    private int _running;

    /// <summary>Everything handled so far.</summary>
    public IReadOnlyList<Handled> All => _handled.ToArray();

    /// <summary>Handlers running now.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>The most handlers that ran at once.</summary>
    public int MaxRunning { get; private set; }

    /// <summary>Records a handling and wakes waiters whose condition now holds.</summary>
    public void Record(Handled handled)
    {
        _handled.Enqueue(handled);
        Check();
    }

    /// <summary>Steps that finished, in order.</summary>
    public IReadOnlyList<(string Job, int Step)> Steps => _steps.ToArray();

    /// <summary>Records that a step of a job finished (ran to the end).</summary>
    public void StepFinished(string job, int step)
    {
        _steps.Enqueue((job, step));
        Check();
    }

    /// <summary>Marks a handler running until the returned scope is disposed.</summary>
    public IDisposable Enter()
    {
        var now = Interlocked.Increment(ref _running);
        lock (_gate)
        {
            MaxRunning = Math.Max(MaxRunning, now);
        }

        Check();
        return new Exit(this);
    }

    /// <summary>A gate handlers can wait on; opened by <see cref="Open"/>. Calling it marks the gate entered.</summary>
    public Task Gate(string name)
    {
        Signal("entered:" + name).TrySetResult();
        return Signal(name).Task;
    }

    /// <summary>Completes once a handler has reached the gate <paramref name="name"/>.</summary>
    public Task EnteredAsync(string name) => Signal("entered:" + name).Task;

    /// <summary>Opens a gate.</summary>
    public void Open(string name) => Signal(name).TrySetResult();

    private TaskCompletionSource Signal(string name) =>
        _gates.GetOrAdd(name, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>Completes when <paramref name="condition"/> holds over what was handled.</summary>
    public Task WhenAsync(Func<IReadOnlyList<Handled>, bool> condition)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _waiters.Add((condition, done));
        }

        Check();
        return done.Task;
    }

    private void Check()
    {
        var all = All;
        List<TaskCompletionSource> met = [];
        lock (_gate)
        {
            var keep = new List<(Func<IReadOnlyList<Handled>, bool>, TaskCompletionSource)>();
            foreach (var (condition, done) in _waiters)
            {
                if (condition(all))
                {
                    met.Add(done);
                }
                else
                {
                    keep.Add((condition, done));
                }
            }

            _waiters = keep;
        }

        met.ForEach(d => d.TrySetResult());
    }

    private sealed class Exit(Recorder recorder) : IDisposable
    {
        public void Dispose()
        {
            Interlocked.Decrement(ref recorder._running);
            recorder.Check();
        }
    }
}

/// <summary>Counts the bus's own measurements per endpoint (from the "Bus" Meter) and lets tests await them.</summary>
public sealed class BusProbe : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(string Endpoint, string Instrument), long> _counts = new();
    private readonly object _gate = new();
    private readonly List<(string Endpoint, string Instrument, long AtLeast, TaskCompletionSource Done)> _waiters = [];
    private readonly ConcurrentQueue<(string Endpoint, string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags)> _recorded = new();

    /// <summary>Starts listening.</summary>
    public BusProbe()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == BusTelemetry.Name)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? endpoint = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "bus.endpoint")
                {
                    endpoint = tag.Value as string;
                }
            }

            if (endpoint is not null)
            {
                _counts.AddOrUpdate((endpoint, instrument.Name), value, (_, v) => v + value);
                Check();
            }
        });
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            var all = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var tag in tags)
            {
                all[tag.Key] = tag.Value;
            }

            if (all.GetValueOrDefault("bus.endpoint") is string endpoint)
            {
                _recorded.Enqueue((endpoint, instrument.Name, value, all));
                _counts.AddOrUpdate((endpoint, instrument.Name), 1, (_, v) => v + 1); // a histogram counts its recordings
                Check();
            }
        });
        _listener.Start();
    }

    /// <summary>The values recorded on the histogram <paramref name="instrument"/> (e.g. "bus.handler.duration") of
    /// <paramref name="endpoint"/>, with their tags, in order.</summary>
    public IReadOnlyList<(double Value, IReadOnlyDictionary<string, object?> Tags)> Recorded(string endpoint, string instrument) =>
        _recorded.Where(r => r.Endpoint == endpoint && r.Instrument == instrument).Select(r => (r.Value, r.Tags)).ToList();

    /// <summary>The count of <paramref name="instrument"/> (e.g. "bus.messages.dead_lettered") on <paramref name="endpoint"/>;
    /// for a histogram (e.g. "bus.handler.duration"), how many values it recorded.</summary>
    public long Count(string endpoint, string instrument) => _counts.GetValueOrDefault((endpoint, instrument));

    /// <summary>Completes when the count reaches <paramref name="atLeast"/>.</summary>
    public Task WhenAsync(string endpoint, string instrument, long atLeast)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _waiters.Add((endpoint, instrument, atLeast, done));
        }

        Check();
        return done.Task;
    }

    /// <inheritdoc />
    public void Dispose() => _listener.Dispose();

    private void Check()
    {
        lock (_gate)
        {
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                var (endpoint, instrument, atLeast, done) = _waiters[i];
                if (Count(endpoint, instrument) >= atLeast)
                {
                    done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }
}

/// <summary>One bus endpoint in a test: its own service provider and hosted services, started and stopped by the test.</summary>
public sealed class TestEndpoint : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly IHostedService[] _hosted;
    private bool _stopped;

    private TestEndpoint(string name, ServiceProvider services)
    {
        Name = name;
        _services = services;
        _hosted = services.GetServices<IHostedService>().ToArray();
    }

    /// <summary>The endpoint (queue) name, as the bus was finally configured.</summary>
    public string Name { get; }

    /// <summary>The endpoint's services.</summary>
    public IServiceProvider Services => _services;

    /// <summary>The bus.</summary>
    public IBus Bus => _services.GetRequiredService<IBus>();

    /// <summary>The transport.</summary>
    public ITransport Transport => _services.GetRequiredService<ITransport>();

    /// <summary>Dead letters of the transport.</summary>
    public IDeadLetterQueue DeadLetters => _services.GetRequiredService<IDeadLetterQueue>();

    /// <summary>Builds and starts an endpoint.</summary>
    public static async Task<TestEndpoint> StartAsync(string name, TimeProvider time, Action<IServiceCollection> services, Action<BusConfiguration> configure)
    {
        var collection = new ServiceCollection();
        collection.AddSingleton(time);
        if (Environment.GetEnvironmentVariable("BUS_TEST_LOG") == "1")
        {
            // Opt-in console logs of every endpoint, for debugging the suite.
            collection.AddLogging(logging => logging.AddSimpleConsole(o => o.TimestampFormat = "HH:mm:ss.fff ").SetMinimumLevel(LogLevel.Debug));
        }

        services(collection);
        collection.AddBus(bus =>
        {
            bus.EndpointName = name;
            configure(bus);
        });
        var provider = collection.BuildServiceProvider(validateScopes: true);
        var endpoint = new TestEndpoint(provider.GetRequiredService<BusConfiguration>().EndpointName!, provider);
        foreach (var hosted in endpoint._hosted)
        {
            await hosted.StartAsync(CancellationToken.None);
        }

        return endpoint;
    }

    /// <summary>Stops the endpoint (graceful stop).</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        foreach (var hosted in _hosted.Reverse())
        {
            await hosted.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>Stops the endpoint if the test did not, then disposes its services. On a manual clock the clock is moved
    /// while the stop waits (for handlers still running when a test failed, until the shutdown timeout cancels them), so
    /// that a failed test reports its own failure instead of hanging in its clean-up.</summary>
    public async ValueTask DisposeAsync()
    {
        var time = _services.GetRequiredService<TimeProvider>();
        await new TimeDriver(time, TimeSpan.FromMinutes(1)) { Step = TimeSpan.FromSeconds(1) }.AwaitAsync(StopAsync());
        await _services.DisposeAsync();
    }
}

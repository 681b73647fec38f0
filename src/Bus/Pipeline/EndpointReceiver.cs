using System.Diagnostics;
using Bus.Diagnostics;
using Bus.Hosting;
using Bus.Leases;
using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.Pipeline;

/// <summary>
/// Receives from the endpoint's queue into a bounded buffer and hands messages to at most MaxConcurrency workers. A
/// worker owns each delivery from receive to settle: it runs the <see cref="IncomingPipeline"/>'s steps, which return an
/// <see cref="Outcome"/>, and has the <see cref="DeliverySettler"/> apply it. The worker keeps the delivery's lease all
/// along with its own <see cref="LeaseRenewer"/>, which holds the message from when the worker takes it, stops before
/// settling and ends the delivery after. A prefetched message's lease is not renewed while it waits: a heartbeat due
/// meanwhile is made before its steps run, and one taken over by another worker meanwhile is dropped here, at no
/// attempt's cost.
/// Capacity (concurrency + prefetch) is taken before receiving, so nothing is received that cannot be held; prefetch
/// only where the transport counts attempts at handler start (<see cref="TransportCapabilities.CountsAttemptsAtStart"/>).
/// On stop: no more receives, buffered messages are released at once, in-flight handlers get the shutdown timeout,
/// then their tokens are cancelled and their messages released.
/// </summary>
internal sealed class EndpointReceiver : IAsyncDisposable
{
    private const int MaxReceiveBatch = 10;

    /// <summary>How long a message released over its type's concurrency limit stays invisible.</summary>
    internal static readonly TimeSpan OverLimitDelay = TimeSpan.FromSeconds(5);
    private readonly IncomingPipeline _pipeline;
    private readonly HandlerServices _handlerServices;
    private readonly DeliverySettler _settler;
    private readonly HandlingTable _handling;
    private readonly ITransport _transport;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly KeyValuePair<string, object?> _endpointTag;
    private readonly string _queue;
    private readonly int _concurrency;
    private readonly TimeSpan _shutdownTimeout;
    private readonly ReceiveCapacity _capacity;
    private readonly ReceivedBuffer _buffer;
    private readonly TypeConcurrency _typeLimits = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _hardStop = new();
    private readonly ShutdownSignals _shutdown;
    private readonly EndpointLeases _leases;
    private readonly ReceiveLoopState _state;
    private Task? _receiveLoop;
    private Task[] _workers = [];
    private Task? _stopped;

    public EndpointReceiver(
        IncomingPipeline pipeline, DeliverySettler settler, HandlingTable handling, ITransport transport, TimeProvider time,
        ILoggerFactory loggers, BusConfiguration config, ReceiveLoopState state, HandlerServices handlerServices)
    {
        _handlerServices = handlerServices;
        _shutdown = new ShutdownSignals(_stopping.Token, _hardStop.Token);
        _state = state;
        _pipeline = pipeline;
        _settler = settler;
        _handling = handling;
        _transport = transport;
        _time = time;
        _log = loggers.CreateLogger("Bus");
        _endpointTag = new("bus.endpoint", config.EndpointName);
        _queue = config.EndpointName!;
        _concurrency = config.MaxConcurrency;
        _shutdownTimeout = config.ShutdownTimeout;
        _leases = new EndpointLeases(transport.Capabilities, time, _log, _endpointTag);
        // Woken for a batch of up to half the places (or one place as soon as a worker is idle). Prefetch only where the
        // transport counts an attempt at handler start: elsewhere a prefetched message killed with its worker would lose
        // an attempt it never made, so only what the workers start at once is received.
        var size = _concurrency + EffectivePrefetch(config, transport.Capabilities);
        _buffer = new ReceivedBuffer(() => _capacity!.OnWorkerIdle());
        _capacity = new ReceiveCapacity(size, Math.Clamp(size / 2, 1, MaxReceiveBatch), () => _buffer.HasIdleWorker, _stopping.Token);
    }

    /// <summary>How many messages may wait received but not started: the configured prefetch on a transport that counts
    /// attempts at start, else none.</summary>
    public static int EffectivePrefetch(BusConfiguration config, TransportCapabilities capabilities) =>
        capabilities.CountsAttemptsAtStart ? config.Prefetch : 0;

    public void Start()
    {
        _workers = Enumerable.Range(0, _concurrency).Select(_ => Task.Run(WorkAsync)).ToArray();
        _state.Running();
        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_buffer)
        {
            return _stopped ??= StopOnceAsync(cancellationToken);
        }
    }

    private async Task StopOnceAsync(CancellationToken cancellationToken)
    {
        if (_receiveLoop is null)
        {
            return;
        }

        _state.Stopping();
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _receiveLoop.ConfigureAwait(false);
        await ReleaseBufferedAsync().ConfigureAwait(false);

        var workers = Task.WhenAll(_workers);
        try
        {
            await workers.WaitAsync(_shutdownTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            _log.LogWarning("Handlers still running after the shutdown timeout of {Timeout}; cancelling them. Their messages are released.", _shutdownTimeout);
            await _hardStop.CancelAsync().ConfigureAwait(false); // cancels every running handler's token
            await workers.ConfigureAwait(false);
        }

        await ReleaseBufferedAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _capacity.Dispose();
        _stopping.Dispose();
        _hardStop.Dispose();
    }

    private async Task ReceiveLoopAsync()
    {
        var token = _stopping.Token;
        var failures = 0;
        var lease = _handling.ReceiveLease;
        try
        {
            while (!token.IsCancellationRequested)
            {
                await _capacity.TakeAsync().ConfigureAwait(false);
                var wanted = 1 + _capacity.TakeUpTo(MaxReceiveBatch - 1);

                IReadOnlyList<IReceivedMessage> received;
                try
                {
                    received = await _transport.ReceiveAsync(_queue, wanted, lease, token).ConfigureAwait(false);
                    failures = 0;
                    _state.Received();
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    _capacity.Release(wanted);
                    break;
                }
                catch (Exception ex)
                {
                    _capacity.Release(wanted);
                    failures++;
                    _state.Failed(ex);
                    var backOff = TimeSpan.FromMilliseconds(Math.Min(30_000, 250 * Math.Pow(2, Math.Min(failures, 10))));
                    _log.LogError(ex, "Receiving from {Queue} failed ({Failures} in a row); trying again in {BackOff}.", _queue, failures, backOff);
                    await Task.Delay(backOff, _time, token).ConfigureAwait(false);
                    continue;
                }

                if (_log.IsEnabled(LogLevel.Debug))
                {
                    _log.LogDebug("Received {Count} of {Wanted} wanted from {Queue}.", received.Count, wanted, _queue);
                }

                if (received.Count < wanted)
                {
                    _capacity.Release(wanted - received.Count);
                }

                var receivedAt = received.Count > 0 ? _time.GetUtcNow() : default; // once for the batch
                for (var i = 0; i < received.Count; i++)
                {
                    var message = received[i];
                    _buffer.Add(new BufferedMessage(message, receivedAt));
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _state.Ended(ex);
            throw;
        }
        finally
        {
            _state.Ended(null);
            _buffer.Complete();
        }
    }

    private async Task WorkAsync()
    {
        var next = _buffer.NewWorker();
        var renewer = new LeaseRenewer(_leases); // holds each delivery this worker takes, one after another
        await using var _ = renewer.ConfigureAwait(false);
        while (await next.NextAsync().ConfigureAwait(false))
        {
            var (message, receivedAt) = next.Current;
            if (_handling.TryGetLimit(message, out var type, out var limit))
            {
                await RunLimitedAsync(message, receivedAt, type, limit, renewer).ConfigureAwait(false);
            }
            else
            {
                await RunAsync(Hold(renewer, message, receivedAt), holdsPlace: true).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A message of a type with a concurrency limit: run now, parked until a place of its type is free, or
    /// released. (A method of its own: the closure that parks it is made only for such messages.)</summary>
    private async Task RunLimitedAsync(IReceivedMessage message, DateTimeOffset receivedAt, MessageType type, int limit, LeaseRenewer renewer)
    {
        HeldMessage parked = default;
        switch (_typeLimits.Enter(type, limit, () => parked = Park(message, receivedAt)))
        {
            case TypeConcurrency.Admission.Parked:
                await parked.Renewer.StartAsync().ConfigureAwait(false); // its lease is renewed while it waits
                _capacity.Release(); // a parked message holds no receive place: other types are still received
                return;
            case TypeConcurrency.Admission.Release:
                await ReleaseOverLimitAsync(message).ConfigureAwait(false);
                return;
        }

        // This worker runs the type's parked messages as it finishes each, keeping the type's place.
        var item = Hold(renewer, message, receivedAt);
        var holdsPlace = true;
        do
        {
            await RunAsync(item, holdsPlace).ConfigureAwait(false);
            holdsPlace = false;
        }
        while (_typeLimits.Exit(type, out item));
    }

    /// <summary>The worker's <paramref name="renewer"/> takes on the lease of <paramref name="message"/>.</summary>
    private HeldMessage Hold(LeaseRenewer renewer, IReceivedMessage message, DateTimeOffset receivedAt) =>
        new(message, renewer, renewer.Hold(message, _handling.ProfileFor(message), receivedAt), Parked: false);

    /// <summary>What waits for a place when a message is over its type's limit: its lease is kept by a renewer of its
    /// own, as the worker goes on to other messages.</summary>
    private HeldMessage Park(IReceivedMessage message, DateTimeOffset receivedAt)
    {
        var own = new LeaseRenewer(_leases);
        return new HeldMessage(message, own, own.Hold(message, _handling.ProfileFor(message), receivedAt), Parked: true);
    }

    /// <summary>Processes one message (or releases it when stopping), then disposes its lease renewer and gives back
    /// its receive place if it holds one.</summary>
    private async Task RunAsync(HeldMessage item, bool holdsPlace)
    {
        var (message, renewer, delivery, _) = item;
        try
        {
            if (_stopping.IsCancellationRequested)
            {
                await ReleaseAsync(message, renewer).ConfigureAwait(false);
                return;
            }

            if (renewer.IsLeaseLost || !await renewer.StartAsync().ConfigureAwait(false))
            {
                return; // taken by another worker while it waited here (prefetched or parked): not ours to handle or settle
            }

            await ProcessAsync(message, renewer, delivery).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The steps turn failures into outcomes; this is a bug guard so one message cannot stop a worker.
            _log.LogError(ex, "Unexpected error processing message {MessageId}; it will be delivered again when its lease expires.",
                message.Message.MessageId);
        }
        finally
        {
            await item.DisposeAsync().ConfigureAwait(false);
            if (holdsPlace)
            {
                _capacity.Release();
            }
        }
    }

    /// <summary>A message over its type's limit with enough of its type waiting: released, without counting an attempt.</summary>
    private async Task ReleaseOverLimitAsync(IReceivedMessage message)
    {
        try
        {
            await message.ReleaseAsync(OverLimitDelay, CancellationToken.None).ConfigureAwait(false);
            if (_log.IsEnabled(LogLevel.Debug))
            {
                _log.LogDebug("Message {MessageId} is over its type's concurrency limit; released for {Delay}.", message.Message.MessageId, OverLimitDelay);
            }
        }
        catch (Exception ex)
        {
            _log.LogWarning(ex, "Could not release message {MessageId} over its type's concurrency limit; it will be delivered again when its lease expires.",
                message.Message.MessageId);
        }
        finally
        {
            _capacity.Release();
        }
    }

    /// <summary>One delivery, from its steps to its settlement, traced and timed. The lease renewer is stopped before
    /// settling (no heartbeat races the settlement); the caller ends the delivery on it.</summary>
    private async Task ProcessAsync(IReceivedMessage message, LeaseRenewer renewer, int delivery)
    {
        BusTelemetry.Received.Add(1, _endpointTag);
        using var activity = StartActivity(message);
        var timed = BusTelemetry.HandlerDuration.Enabled; // the clock is read only for a listener
        var started = timed ? _time.GetTimestamp() : 0;
        var outcome = "unknown";
        if (_log.IsEnabled(LogLevel.Debug))
        {
            _log.LogDebug("Processing message {MessageId} from {Queue}, attempt {Attempt}.", message.Message.MessageId, message.Queue, message.ReceiveCount);
        }

        try
        {
            var context = new MessageContext(message, renewer, delivery, _shutdown, _handlerServices);
            var decided = await _pipeline.RunAsync(context).ConfigureAwait(false);
            outcome = decided.Kind switch
            {
                OutcomeKind.Complete => "completed",
                OutcomeKind.Retry => "retried",
                OutcomeKind.Release => "released",
                OutcomeKind.DeadLetter => "dead-lettered",
                _ => "lease-lost",
            };
            await renewer.StopAsync().ConfigureAwait(false);
            await _settler.SettleAsync(context, decided).ConfigureAwait(false);
        }
        finally
        {
            if (_log.IsEnabled(LogLevel.Debug))
            {
                _log.LogDebug("Message {MessageId}: {Outcome}.", message.Message.MessageId, outcome);
            }

            if (timed)
            {
                var elapsed = _time.GetElapsedTime(started);
                BusTelemetry.HandlerDuration.Record(elapsed.TotalMilliseconds, _endpointTag, new KeyValuePair<string, object?>("bus.outcome", outcome));
            }

            activity?.SetTag("bus.outcome", outcome);
        }
    }

    private static Activity? StartActivity(IReceivedMessage received)
    {
        if (!BusTelemetry.Source.HasListeners())
        {
            return null;
        }

        var headers = received.Message.Headers;
        ActivityContext parent = default;
        if (headers.TryGetValue(MessageHeaders.TraceParent, out var traceParent))
        {
            headers.TryGetValue(MessageHeaders.TraceState, out var traceState);
            ActivityContext.TryParse(traceParent, traceState, out parent);
        }

        var name = headers.TryGetValue(MessageHeaders.MessageType, out var type) ? type : "system-message";
        var activity = BusTelemetry.Source.StartActivity($"process {name}", ActivityKind.Consumer, parent);
        activity?.SetTag("messaging.message.id", received.Message.MessageId);
        activity?.SetTag("messaging.destination.name", received.Queue);
        return activity;
    }

    private async Task ReleaseBufferedAsync()
    {
        foreach (var parked in _typeLimits.TakeParked())
        {
            try
            {
                await ReleaseAsync(parked.Message, parked.Renewer).ConfigureAwait(false);
            }
            finally
            {
                await parked.DisposeAsync().ConfigureAwait(false); // a parked message gave its receive place back already
            }
        }

        while (_buffer.TryTake(out var item))
        {
            try
            {
                await ReleaseAsync(item.Message).ConfigureAwait(false);
            }
            finally
            {
                _capacity.Release();
            }
        }
    }

    private async Task ReleaseAsync(IReceivedMessage message, LeaseRenewer? renewer = null)
    {
        if (renewer is not null)
        {
            await renewer.StopAsync().ConfigureAwait(false);
        }

        try
        {
            await message.ReleaseAsync(TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _log.LogWarning(ex, "Could not release message {MessageId} at shutdown; it will be delivered again when its lease expires.",
                message.Message.MessageId);
        }
    }
}

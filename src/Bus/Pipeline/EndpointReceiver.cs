using Bus.Leases;
using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.Pipeline;

/// <summary>
/// Receives from the endpoint's queue into a bounded buffer and hands messages to at most MaxConcurrency handlers.
/// Capacity (concurrency + prefetch) is taken before receiving, so nothing is received that cannot be held.
/// On stop: no more receives, buffered messages are released at once, in-flight handlers get the shutdown timeout,
/// then their tokens are cancelled and their messages released.
/// </summary>
internal sealed class EndpointReceiver : IAsyncDisposable
{
    private const int MaxReceiveBatch = 10;

    /// <summary>The largest body the receive loop deserializes ahead of a worker: small enough to take microseconds,
    /// so the loop never keeps a worker waiting for long.</summary>
    private const int ReadAheadBodyLimit = 16 * 1024;
    private readonly MessagePipeline _pipeline;
    private readonly string _queue;
    private readonly int _concurrency;
    private readonly TimeSpan _shutdownTimeout;
    private readonly ReceiveCapacity _capacity;
    private readonly ReceivedBuffer _buffer;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _hardStop = new();
    private readonly LeaseDeadlines _deadlines;
    private readonly EndpointLeases _leases;
    private readonly LeaseRenewer?[] _handling; // per worker: the lease of the message it handles, for a hard stop
    private Task? _receiveLoop;
    private Task[] _workers = [];
    private Task? _stopped;

    public EndpointReceiver(MessagePipeline pipeline, string queue, int concurrency, int prefetch, TimeSpan shutdownTimeout)
    {
        _pipeline = pipeline;
        _queue = queue;
        _concurrency = concurrency;
        _shutdownTimeout = shutdownTimeout;
        _deadlines = new LeaseDeadlines(pipeline.Time);
        _leases = new EndpointLeases(pipeline.Transport.Capabilities, pipeline.Time, _deadlines, pipeline.Log, pipeline.EndpointTag);
        _handling = new LeaseRenewer?[concurrency];
        // Woken for a batch of up to half the places (or one place as soon as a worker is idle).
        var size = concurrency + prefetch;
        _buffer = new ReceivedBuffer(() => _capacity!.OnWorkerIdle());
        _capacity = new ReceiveCapacity(size, Math.Clamp(size / 2, 1, MaxReceiveBatch), () => _buffer.HasIdleWorker, _stopping.Token);
    }

    public void Start()
    {
        _workers = Enumerable.Range(0, _concurrency).Select(worker => Task.Run(() => WorkAsync(worker))).ToArray();
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

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _receiveLoop.ConfigureAwait(false);
        await ReleaseBufferedAsync().ConfigureAwait(false);

        var workers = Task.WhenAll(_workers);
        try
        {
            await workers.WaitAsync(_shutdownTimeout, _pipeline.Time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            _pipeline.Log.LogWarning("Handlers still running after the shutdown timeout of {Timeout}; cancelling them. Their messages are released.", _shutdownTimeout);
            await _hardStop.CancelAsync().ConfigureAwait(false);
            foreach (var renewer in _handling)
            {
                renewer?.CancelHandling(); // a handler that starts after this sees the cancelled token itself
            }

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
        _deadlines.Dispose();
    }

    private async Task ReceiveLoopAsync()
    {
        var token = _stopping.Token;
        var failures = 0;
        var lease = _pipeline.ReceiveLease;
        try
        {
            while (!token.IsCancellationRequested)
            {
                await _capacity.TakeAsync().ConfigureAwait(false);
                var wanted = 1 + _capacity.TakeUpTo(MaxReceiveBatch - 1);

                IReadOnlyList<IReceivedMessage> received;
                try
                {
                    received = await _pipeline.Transport.ReceiveAsync(_queue, wanted, lease, token).ConfigureAwait(false);
                    failures = 0;
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
                    var backOff = TimeSpan.FromMilliseconds(Math.Min(30_000, 250 * Math.Pow(2, Math.Min(failures, 10))));
                    _pipeline.Log.LogError(ex, "Receiving from {Queue} failed ({Failures} in a row); trying again in {BackOff}.", _queue, failures, backOff);
                    await Task.Delay(backOff, _pipeline.Time, token).ConfigureAwait(false);
                    continue;
                }

                if (_pipeline.Log.IsEnabled(LogLevel.Debug))
                {
                    _pipeline.Log.LogDebug("Received {Count} of {Wanted} wanted from {Queue}.", received.Count, wanted, _queue);
                }

                if (received.Count < wanted)
                {
                    _capacity.Release(wanted - received.Count);
                }

                var receivedAt = received.Count > 0 ? _pipeline.Time.GetUtcNow() : default; // once for the batch
                for (var i = 0; i < received.Count; i++)
                {
                    var message = received[i];
                    var handling = _pipeline.HandlingFor(message); // once: for the lease's profile and for reading ahead
                    var renewer = new LeaseRenewer(message, handling?.Profile ?? _pipeline.DefaultProfile, _leases, receivedAt);
                    renewer.Start();
                    // A small message that will wait for a busy worker is read here meanwhile (the loop has the time; a
                    // single worker then does not also deserialize). One an idle worker takes at once is read by it.
                    var prepared = handling is not null && !_buffer.HasIdleWorker && message.Message.Body.Length <= ReadAheadBodyLimit
                        ? _pipeline.Prepare(message, handling)
                        : default;
                    _buffer.Add(new BufferedMessage(message, renewer, prepared));
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        finally
        {
            _buffer.Complete();
        }
    }

    private async Task WorkAsync(int worker)
    {
        var next = _buffer.NewWorker();
        while (await next.NextAsync().ConfigureAwait(false))
        {
            var (message, renewer, prepared) = next.Current;
            try
            {
                if (_stopping.IsCancellationRequested)
                {
                    await ReleaseAsync(message, renewer).ConfigureAwait(false);
                    continue;
                }

                // A full fence: a hard stop either sees this renewer or is seen by it (BeginHandling checks the token).
                Interlocked.Exchange(ref _handling[worker], renewer);
                await _pipeline.ProcessAsync(message, renewer, prepared, _stopping.Token, _hardStop.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // ProcessAsync settles its own failures; this is a bug guard so one message cannot stop a worker.
                _pipeline.Log.LogError(ex, "Unexpected error processing message {MessageId}; it will be delivered again when its lease expires.",
                    message.Message.MessageId);
            }
            finally
            {
                Volatile.Write(ref _handling[worker], null);
                await renewer.DisposeAsync().ConfigureAwait(false);
                _capacity.Release();
            }
        }
    }

    private async Task ReleaseBufferedAsync()
    {
        while (_buffer.TryTake(out var item))
        {
            try
            {
                await ReleaseAsync(item.Message, item.Renewer).ConfigureAwait(false);
            }
            finally
            {
                await item.Renewer.DisposeAsync().ConfigureAwait(false);
                _capacity.Release();
            }
        }
    }

    private async Task ReleaseAsync(IReceivedMessage message, LeaseRenewer renewer)
    {
        await renewer.StopAsync().ConfigureAwait(false);
        try
        {
            await message.ReleaseAsync(TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _pipeline.Log.LogWarning(ex, "Could not release message {MessageId} at shutdown; it will be delivered again when its lease expires.",
                message.Message.MessageId);
        }
    }
}

using Bus.Diagnostics;
using Bus.Timing;
using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.Leases;

/// <summary>
/// Keeps the lease of one received message alive with heartbeats from the moment it is received until it is settled.
/// Once the handler starts, its max runtime is counted: at the limit the handler is cancelled and renewals stop.
/// When a renewal reports the lease lost, the handler is cancelled so the message is not settled a second time.
/// </summary>
/// <remarks>
/// Short handlers cost no timer of their own: the first heartbeat and the max runtime are deadlines on the endpoint's
/// <see cref="LeaseDeadlines"/> (a max runtime later than the first heartbeat is put there by that heartbeat), the
/// renewal loop starts only when the first heartbeat falls due, and the handler has one cancellation source, made only
/// when the handler reads its token, that a lost lease, the max runtime and a hard stop all cancel (the receiver
/// cancels the handlers it runs at a hard stop: no registration per message on a shared token). What every renewer of
/// an endpoint shares lives once in <see cref="EndpointLeases"/>.
/// </remarks>
internal sealed class LeaseRenewer : IAsyncDisposable
{
    private const int FirstHeartbeatPending = 0;
    private const int FirstHeartbeatCame = 1;
    private const int MaxRuntimeDeferred = 2;
    private readonly IReceivedMessage _message;
    private readonly ExecutionProfile _profile;
    private readonly EndpointLeases _leases;
    private readonly long _receivedAtTicks;
    private CancellationTokenSource? _handler;
    private Renewal? _renewal; // made at the first renewal: most messages are settled before one
    private long _handlingStartedAtTicks; // UTC ticks; 0 until the handler starts
    private long _firstHeartbeatAtTicks; // UTC ticks of the first heartbeat, 0 when none is scheduled
    private int _firstHeartbeat; // FirstHeartbeatPending, Came, or MaxRuntimeDeferred (it is to schedule the max runtime)

    // Starting and stopping the loop lock on the renewer itself: it is internal and sealed, nothing else locks on it,
    // and a separate lock object would cost an allocation per message.
    private volatile bool _stopped;
    private volatile bool _leaseLost;
    private volatile bool _runtimeExceeded;
    private bool _handlerCancelled; // under the lock: the handler's token is (to be made) cancelled

    /// <summary>Creates the renewer of a message received at <paramref name="receivedAt"/> (now when not given).</summary>
    public LeaseRenewer(IReceivedMessage message, ExecutionProfile profile, EndpointLeases leases, DateTimeOffset? receivedAt = null)
    {
        _message = message;
        _profile = profile;
        _leases = leases;
        _receivedAtTicks = (receivedAt ?? leases.Time.GetUtcNow()).UtcTicks;
    }

    /// <summary>Whether a renewal found the lease lost.</summary>
    public bool IsLeaseLost => _leaseLost;

    /// <summary>Whether the handler ran past its max runtime.</summary>
    public bool IsRuntimeExceeded => _runtimeExceeded;

    /// <summary>Whether heartbeats and the runtime clock have stopped (the message is settled or released).</summary>
    public bool IsStopped => _stopped;

    public ExecutionProfile Profile => _profile;

    /// <summary>Arms the first heartbeat (when the transport can renew and the profile asks for it).</summary>
    public void Start()
    {
        if (_leases.Capabilities.CanRenewLease && _profile.AutomaticRenewal)
        {
            // Counted from when it was received (the renewer is started then): no need to read the clock again.
            var now = new DateTimeOffset(_receivedAtTicks, TimeSpan.Zero);
            var at = now + NextWait(now);
            _firstHeartbeatAtTicks = at.UtcTicks; // no other thread has the renewer before it is scheduled

            _leases.Deadlines.Schedule(this, LeaseDeadline.FirstHeartbeat, at);
        }
    }

    /// <summary>The handler starts: its max runtime starts counting. A hard stop that came already
    /// (<paramref name="hardStop"/>) cancels the handler's token at once; one that comes later is passed on by the
    /// receiver (<see cref="CancelHandling"/>).</summary>
    public void BeginHandling(CancellationToken hardStop)
    {
        var now = _leases.Time.GetUtcNow();
        _handlingStartedAtTicks = now.UtcTicks;
        if (hardStop.IsCancellationRequested)
        {
            CancelHandler();
        }

        // The max runtime goes on the endpoint's deadlines now only when it comes before the first heartbeat, or that
        // heartbeat has come (or none is due). Otherwise the first heartbeat puts it there: most messages are settled
        // before either, and then cost one deadline instead of two.
        var maxAt = now + _profile.MaxRuntime;
        var deferred = _firstHeartbeatAtTicks != 0 && maxAt.UtcTicks > _firstHeartbeatAtTicks
            && Interlocked.CompareExchange(ref _firstHeartbeat, MaxRuntimeDeferred, FirstHeartbeatPending) == FirstHeartbeatPending;
        if (!deferred)
        {
            _leases.Deadlines.Schedule(this, LeaseDeadline.MaxRuntime, maxAt);
        }
    }

    /// <summary>The handler's token, cancelled by a lost lease, the max runtime or a hard stop. Its source is made on
    /// first read (most handlers never read it), already cancelled when one of those came first.</summary>
    public CancellationToken HandlerToken
    {
        get
        {
            if (Volatile.Read(ref _handler) is { } made)
            {
                return made.Token;
            }

            lock (this)
            {
                if (_handler is null)
                {
                    var handler = new CancellationTokenSource();
                    if (_handlerCancelled)
                    {
                        handler.Cancel(); // nobody else holds its token yet: no callbacks run under the lock
                    }

                    Volatile.Write(ref _handler, handler);
                }

                return _handler.Token;
            }
        }
    }

    /// <summary>Cancels the handler's token (a hard stop); nothing when the handler has ended.</summary>
    public void CancelHandling() => CancelHandler();

    public async Task<DateTimeOffset> ExtendAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        if (!_leases.Capabilities.CanRenewLease)
        {
            throw new NotSupportedException($"The {_leases.Capabilities.Name} transport cannot extend leases.");
        }

        if (duration > _leases.Capabilities.MaxLeaseDuration)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration,
                $"The {_leases.Capabilities.Name} transport grants leases of at most {_leases.Capabilities.MaxLeaseDuration}.");
        }

        // Not much past the handler's max runtime (it is cancelled then; a crash after a longer extension would hide
        // the message for nothing): the lease may outlast it by one heartbeat interval, so the cancelled handler can
        // still settle. Never past the transport's total lease time. And never shorter than the lease already held:
        // an extension must not undo a heartbeat.
        var now = _leases.Time.GetUtcNow();
        if (_handlingStartedAtTicks != 0)
        {
            var started = new DateTimeOffset(_handlingStartedAtTicks, TimeSpan.Zero);
            var runtimeLeft = started + _profile.MaxRuntime - now;
            if (runtimeLeft <= TimeSpan.Zero)
            {
                throw new InvalidOperationException(
                    $"Message '{_message.Message.MessageId}' reached its max runtime of {_profile.MaxRuntime}; its lease is not extended.");
            }

            var bound = runtimeLeft + _profile.HeartbeatInterval;
            duration = duration < bound ? duration : bound;
        }

        if (TotalLeaseLeft(now) is { } totalLeft)
        {
            if (totalLeft <= TimeSpan.Zero)
            {
                throw new InvalidOperationException(
                    $"Message '{_message.Message.MessageId}' has been leased for the {_leases.Capabilities.Name} transport's maximum of {_leases.Capabilities.MaxTotalLeaseTime}; its lease cannot be extended.");
            }

            duration = duration < totalLeft ? duration : totalLeft;
        }

        var held = _message.LeaseExpiresAt - now;
        duration = duration > held ? duration : held;

        return await RenewAsync(duration, cancellationToken).ConfigureAwait(false)
            ?? throw new LeaseLostException($"The lease on message '{_message.Message.MessageId}' is lost.");
    }

    /// <summary>Stops heartbeats and the runtime clock; waits for a renewal in progress. Idempotent.</summary>
    public ValueTask StopAsync()
    {
        // Once stopped no loop can start, so a stopped renewer without a loop has nothing to wait for (settling calls
        // this several times per message).
        if (_stopped && Volatile.Read(ref _renewal)?.Loop is null)
        {
            return ValueTask.CompletedTask;
        }

        Task? loop;
        CancellationTokenSource? stop;
        lock (this)
        {
            _stopped = true;
            loop = _renewal?.Loop;
            stop = _renewal?.Stop;
        }

        return loop is null && stop is null ? ValueTask.CompletedTask : StopLoopAsync(loop, stop);
    }

    private static async ValueTask StopLoopAsync(Task? loop, CancellationTokenSource? stop)
    {
        if (stop is not null && !stop.IsCancellationRequested)
        {
            await stop.CancelAsync().ConfigureAwait(false);
        }

        if (loop is not null)
        {
            await loop.ConfigureAwait(false);
        }
    }

    public ValueTask DisposeAsync()
    {
        var stopping = StopAsync();
        if (!stopping.IsCompletedSuccessfully)
        {
            return DisposeAfterAsync(stopping);
        }

        stopping.GetAwaiter().GetResult();
        DisposeSources();
        return ValueTask.CompletedTask;
    }

    private async ValueTask DisposeAfterAsync(ValueTask stopping)
    {
        await stopping.ConfigureAwait(false);
        DisposeSources();
    }

    private void DisposeSources()
    {
        _handler?.Dispose();
        _renewal?.Dispose();
    }

    /// <summary>A deadline of this lease fell due (called by <see cref="LeaseDeadlines"/>).</summary>
    public void OnDeadline(LeaseDeadline kind)
    {
        try
        {
            if (kind == LeaseDeadline.FirstHeartbeat)
            {
                if (Interlocked.Exchange(ref _firstHeartbeat, FirstHeartbeatCame) == MaxRuntimeDeferred)
                {
                    var started = new DateTimeOffset(Volatile.Read(ref _handlingStartedAtTicks), TimeSpan.Zero);
                    _leases.Deadlines.Schedule(this, LeaseDeadline.MaxRuntime, started + _profile.MaxRuntime);
                }

                StartLoop();
            }
            else if (!_stopped)
            {
                ReachRuntime();
            }
        }
        catch (Exception ex)
        {
            _leases.Log.LogError(ex, "Lease deadline {Deadline} of message {MessageId} failed.", kind, _message.Message.MessageId);
        }
    }

    private void StartLoop()
    {
        TaskCompletionSource done;
        CancellationToken token;
        lock (this)
        {
            if (_stopped || _renewal?.Loop is not null)
            {
                return;
            }

            var renewal = EnsureRenewal();
            renewal.Stop = new CancellationTokenSource();
            token = renewal.Stop.Token;
            done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            renewal.Loop = done.Task;
        }

        // Runs on the timer's thread up to the first real wait, so the first renewal happens when it falls due.
        _ = RunAsync(token, done);
    }

    private async Task RunAsync(CancellationToken stop, TaskCompletionSource done)
    {
        try
        {
            // The first heartbeat is due now. Later ones keep to a fixed schedule counted from the due time of the one
            // before, not from when its renewal returned, so a slow renewal (or a clock read late) does not push every
            // later heartbeat back; a loop that fell behind renews at once, once.
            var due = _leases.Time.GetUtcNow();
            while (!stop.IsCancellationRequested && !_runtimeExceeded)
            {
                var duration = RenewalDuration(_leases.Time.GetUtcNow());
                if (duration is null)
                {
                    _leases.Log.LogWarning("Message {MessageId}: the transport's maximum total lease time ({Max}) is reached; the lease will expire.",
                        _message.Message.MessageId, _leases.Capabilities.MaxTotalLeaseTime);
                    return;
                }

                if (await RenewAsync(duration.Value, stop).ConfigureAwait(false) is null)
                {
                    return;
                }

                var now = _leases.Time.GetUtcNow();
                due += NextWait(due);
                if (due < now)
                {
                    due = now;
                }

                // Continues on the timer's callback: a manual clock moved across several heartbeats renews at each
                // one's own time before it moves on, as a real clock would.
                await PreciseDelay.WaitUntilAsync(_leases.Time, due, stop, continueOnTimer: true).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _leases.Log.LogError(ex, "Lease renewal of message {MessageId} stopped unexpectedly.", _message.Message.MessageId);
        }
        finally
        {
            done.TrySetResult();
        }
    }

    /// <summary>What is left of the transport's maximum total lease time (SQS: 12 hours from receipt), or null when it
    /// has none.</summary>
    private TimeSpan? TotalLeaseLeft(DateTimeOffset now) =>
        _leases.Capabilities.MaxTotalLeaseTime is { } max ? max - (now - new DateTimeOffset(_receivedAtTicks, TimeSpan.Zero)) : null;

    private TimeSpan NextWait(DateTimeOffset now)
    {
        var wait = _profile.HeartbeatInterval;
        var half = (_message.LeaseExpiresAt - now) / 2;
        if (half < wait)
        {
            wait = half;
        }

        // Never spin: when the lease has (nearly) run out, e.g. after failed renewals, retry at a steady pace.
        var floor = _profile.HeartbeatInterval < TimeSpan.FromSeconds(1) ? _profile.HeartbeatInterval : TimeSpan.FromSeconds(1);
        return wait > floor ? wait : floor;
    }

    private TimeSpan? RenewalDuration(DateTimeOffset now)
    {
        var duration = _leases.Capabilities.LeaseDurationIsFixed ? _leases.Capabilities.MaxLeaseDuration : _profile.LeaseDuration;
        return TotalLeaseLeft(now) is not { } left ? duration
            : left <= TimeSpan.Zero ? null
            : left < duration ? left
            : duration;
    }

    private async Task<DateTimeOffset?> RenewAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        if (_leaseLost)
        {
            return null;
        }

        var renewing = EnsureRenewal().Gate;
        await renewing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var expiry = await _message.RenewLeaseAsync(duration, cancellationToken).ConfigureAwait(false);
            BusTelemetry.LeaseRenewals.Add(1, _leases.Tag);
            return expiry;
        }
        catch (LeaseLostException ex)
        {
            BusTelemetry.LeasesLost.Add(1, _leases.Tag);
            _leases.Log.LogWarning(ex, "Lease lost on message {MessageId} in {Queue}; cancelling its handler. It may be delivered again.",
                _message.Message.MessageId, _message.Queue);
            _leaseLost = true;
            CancelHandler();
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A transient failure: try again at the next heartbeat, while the lease still holds.
            _leases.Log.LogWarning(ex, "Renewing the lease on message {MessageId} failed; retrying at the next heartbeat.", _message.Message.MessageId);
            return _message.LeaseExpiresAt;
        }
        finally
        {
            renewing.Release();
        }
    }

    private void ReachRuntime()
    {
        _runtimeExceeded = true;
        _leases.Log.LogWarning("Message {MessageId} ({Queue}) reached its max runtime of {MaxRuntime}; cancelling the handler.",
            _message.Message.MessageId, _message.Queue, _profile.MaxRuntime);
        CancelHandler();
    }

    private void CancelHandler()
    {
        CancellationTokenSource? handler;
        lock (this)
        {
            _handlerCancelled = true;
            handler = _handler;
        }

        try
        {
            handler?.Cancel(); // outside the lock: cancelling runs the token's callbacks
        }
        catch (ObjectDisposedException)
        {
            // The handler already finished.
        }
    }

    private Renewal EnsureRenewal() => LazyInitializer.EnsureInitialized(ref _renewal, static () => new Renewal());

    /// <summary>What renewing takes: one renewal at a time (heartbeat or extension), and the heartbeat loop once it runs.</summary>
    private sealed class Renewal : IDisposable
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        /// <summary>Stops the heartbeat loop (set with <see cref="Loop"/>, under the renewer's lock).</summary>
        public CancellationTokenSource? Stop { get; set; }

        /// <summary>The heartbeat loop, once it runs.</summary>
        public Task? Loop { get; set; }

        public void Dispose()
        {
            Stop?.Dispose();
            Gate.Dispose();
        }
    }
}

using Bus.Diagnostics;
using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.Leases;

/// <summary>
/// Keeps the lease of the delivery a worker holds alive, and ends its handler at the max runtime. Each worker has one,
/// made when the worker starts, which holds the deliveries the worker takes one after another (<see cref="Hold"/>, then
/// <see cref="EndAsync"/> after settling): a message costs no renewer and no timer of its own. A message parked over
/// its type's concurrency limit, which no worker holds while it waits, gets a renewer of its own.
/// </summary>
/// <remarks>
/// One loop, driven by the renewer's one timer armed for whatever comes first: the next heartbeat, or (once the handler
/// started) the end of its max runtime. A heartbeat renews the lease and arms the timer again; the max runtime cancels
/// the handler and ends the loop; a renewal that finds the lease lost cancels the handler and ends the loop. Heartbeats
/// keep a fixed schedule counted from the receive, each from the due time of the one before, so a slow renewal does not
/// push later ones back. The first comes, at the latest, halfway through the lease left when the receive returned; one
/// overdue when the worker takes the message (it waited, prefetched, for more than half its lease) is made at once.
/// Each delivery held gets a number (<see cref="Hold"/> returns it): what a handler's context asks of the renewer (its
/// token, an extension) names its delivery, so a context kept past its delivery never touches the next one.
/// </remarks>
internal sealed class LeaseRenewer : IAsyncDisposable
{
    // Its state is guarded by lock (this): the class is internal and sealed, nothing else locks on it.
    private readonly EndpointLeases _leases;
    private readonly ITimer _timer;
    private IReceivedMessage _message = null!;
    private ExecutionProfile _profile = null!;
    private DateTimeOffset _receivedAt;
    private int _delivery; // the number of the delivery held (or last held)
    private DateTimeOffset _nextHeartbeat = DateTimeOffset.MaxValue;
    private DateTimeOffset _runtimeEndsAt = DateTimeOffset.MaxValue;
    private CancellationTokenSource? _handler; // made when the handler first reads its token
    private CancellationTokenRegistration _hardStop;
    private SemaphoreSlim? _renewing; // one renewal at a time (heartbeat or extension); made with the first
    private Task _heartbeat = Task.CompletedTask; // the renewal in progress, if any
    private bool _handlerCancelled;
    private volatile bool _stopped = true;
    private volatile bool _leaseLost;
    private volatile bool _runtimeExceeded;

    /// <summary>A worker's renewer: it holds nothing until <see cref="Hold"/>.</summary>
    public LeaseRenewer(EndpointLeases leases)
    {
        _leases = leases;
        _timer = leases.Time.CreateTimer(static state => ((LeaseRenewer)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>A renewer of one delivery (a parked message): holds <paramref name="message"/>, received at
    /// <paramref name="receivedAt"/> (now when not given), from the start.</summary>
    public LeaseRenewer(IReceivedMessage message, ExecutionProfile profile, EndpointLeases leases, DateTimeOffset? receivedAt = null)
        : this(leases) => Hold(message, profile, receivedAt ?? leases.Time.GetUtcNow());

    /// <summary>Takes on the lease of <paramref name="message"/>, received at <paramref name="receivedAt"/>, once started
    /// (<see cref="StartAsync"/>): heartbeats when the transport can renew and the profile asks for them. The delivery
    /// held before must have ended (<see cref="EndAsync"/>). Returns the delivery's number.</summary>
    public int Hold(IReceivedMessage message, ExecutionProfile profile, DateTimeOffset receivedAt)
    {
        lock (this)
        {
            if (!_stopped)
            {
                throw new InvalidOperationException("The renewer still holds a delivery: end it first.");
            }

            _message = message;
            _profile = profile;
            _receivedAt = receivedAt;
            _nextHeartbeat = _leases.Capabilities.CanRenewLease && profile.AutomaticRenewal ? FirstHeartbeat(receivedAt) : DateTimeOffset.MaxValue;
            _runtimeEndsAt = DateTimeOffset.MaxValue;
            _handler = null;
            _handlerCancelled = false;
            _leaseLost = false;
            _runtimeExceeded = false;
            _stopped = false;
            return ++_delivery;
        }
    }

    /// <summary>Starts the loop. A heartbeat that fell due while the message waited for a worker (prefetched for half
    /// its lease or more) is made first, before the handler can start, so that no other worker takes the message while
    /// it runs. False when that renewal found the lease lost: the message is someone else's now.</summary>
    public async ValueTask<bool> StartAsync()
    {
        if (_nextHeartbeat <= _leases.Time.GetUtcNow())
        {
            await HeartbeatAsync(_message, _delivery, _nextHeartbeat).ConfigureAwait(false); // arms the timer for the next one
            return !_leaseLost;
        }

        Arm();
        return true;
    }

    /// <summary>Whether a renewal found the lease lost.</summary>
    public bool IsLeaseLost => _leaseLost;

    /// <summary>Whether the handler ran past its max runtime.</summary>
    public bool IsRuntimeExceeded => _runtimeExceeded;

    public ExecutionProfile Profile => _profile;

    /// <summary>The handler starts: its max runtime starts counting, and <paramref name="hardStop"/> (the end of the
    /// shutdown timeout) cancels it.</summary>
    public void BeginHandling(CancellationToken hardStop)
    {
        lock (this)
        {
            _runtimeEndsAt = _leases.Time.GetUtcNow() + _profile.MaxRuntime;
        }

        Arm();
        _hardStop = hardStop.UnsafeRegister(static state => ((LeaseRenewer)state!).CancelHandler(), this);
    }

    /// <summary>The handler's token of the delivery held (see <see cref="TokenFor"/>).</summary>
    public CancellationToken HandlerToken => TokenFor(_delivery);

    /// <summary>The handler's token of delivery <paramref name="delivery"/>, cancelled by a lost lease, the max runtime or
    /// a hard stop. Its source is made on first read (most handlers never read it), already cancelled when one of those
    /// came first; a delivery that has ended gets a cancelled token.</summary>
    public CancellationToken TokenFor(int delivery)
    {
        lock (this)
        {
            if (delivery != _delivery)
            {
                return new CancellationToken(canceled: true);
            }

            if (_handler is null)
            {
                _handler = new CancellationTokenSource();
                if (_handlerCancelled)
                {
                    _handler.Cancel(); // nobody holds its token yet: no callbacks run under the lock
                }
            }

            return _handler.Token;
        }
    }

    /// <summary>Extends the lease of the delivery held by <paramref name="duration"/> (see <see cref="ExtendAsync(int, TimeSpan, CancellationToken)"/>).</summary>
    public Task<DateTimeOffset> ExtendAsync(TimeSpan duration, CancellationToken cancellationToken) =>
        ExtendAsync(_delivery, duration, cancellationToken);

    /// <summary>Extends the lease of delivery <paramref name="delivery"/> by <paramref name="duration"/> from now (a
    /// handler's <c>ExtendLeaseAsync</c>), within the max runtime left and the transport's limits, never shorter than
    /// the lease held. A delivery that has ended has no lease to extend (<see cref="LeaseLostException"/>).</summary>
    public async Task<DateTimeOffset> ExtendAsync(int delivery, TimeSpan duration, CancellationToken cancellationToken)
    {
        var capabilities = _leases.Capabilities;
        if (!capabilities.CanRenewLease)
        {
            throw new NotSupportedException($"The {capabilities.Name} transport cannot extend leases.");
        }

        if (duration > capabilities.MaxLeaseDuration)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration,
                $"The {capabilities.Name} transport grants leases of at most {capabilities.MaxLeaseDuration}.");
        }

        // Not much past the handler's max runtime (it is cancelled then; a crash after a longer extension would hide
        // the message for nothing): the lease may outlast it by one heartbeat interval, so the cancelled handler can
        // still settle. Never past the transport's total lease time.
        var now = _leases.Time.GetUtcNow();
        DateTimeOffset runtimeEndsAt, receivedAt;
        IReceivedMessage message;
        ExecutionProfile profile;
        lock (this)
        {
            if (delivery != _delivery)
            {
                throw new LeaseLostException("The message's handling has ended: its lease can no longer be extended.");
            }

            (message, profile, runtimeEndsAt, receivedAt) = (_message, _profile, _runtimeEndsAt, _receivedAt);
        }

        if (runtimeEndsAt != DateTimeOffset.MaxValue)
        {
            var runtimeLeft = runtimeEndsAt - now;
            if (runtimeLeft <= TimeSpan.Zero)
            {
                throw new InvalidOperationException(
                    $"Message '{message.Message.MessageId}' reached its max runtime of {profile.MaxRuntime}; its lease is not extended.");
            }

            duration = Min(duration, runtimeLeft + profile.HeartbeatInterval);
        }

        if (TotalLeaseLeft(receivedAt, now) is { } totalLeft)
        {
            if (totalLeft <= TimeSpan.Zero)
            {
                throw new InvalidOperationException(
                    $"Message '{message.Message.MessageId}' has been leased for the {capabilities.Name} transport's maximum of {capabilities.MaxTotalLeaseTime}; its lease cannot be extended.");
            }

            duration = Min(duration, totalLeft);
        }

        var held = message.LeaseExpiresAt - now;
        duration = duration > held ? duration : held; // an extension must not undo a heartbeat

        return await RenewAsync(message, delivery, duration, cancellationToken).ConfigureAwait(false)
            ?? throw new LeaseLostException($"The lease on message '{message.Message.MessageId}' is lost.");
    }

    /// <summary>Ends the loop: no more heartbeats, no max runtime; waits for a renewal in progress. Idempotent.</summary>
    public Task StopAsync()
    {
        lock (this)
        {
            if (_stopped)
            {
                return _heartbeat;
            }

            _stopped = true;
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        _hardStop.Dispose();
        return _heartbeat;
    }

    /// <summary>Ends the delivery held, once settled (or given up): stops the loop and disposes the handler's token
    /// source. A context of the delivery asking for its token or an extension from now on is told it has ended; the
    /// renewer can hold the next delivery.</summary>
    public async ValueTask EndAsync()
    {
        await StopAsync().ConfigureAwait(false);
        CancellationTokenSource? handler;
        lock (this)
        {
            handler = _handler;
            _handler = null;
            _delivery++;
        }

        handler?.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await EndAsync().ConfigureAwait(false);
        _timer.Dispose();
        _renewing?.Dispose();
    }

    /// <summary>Arms the timer for the next thing due: the next heartbeat or the end of the max runtime.</summary>
    private void Arm()
    {
        lock (this)
        {
            if (_stopped)
            {
                return;
            }

            var next = _nextHeartbeat < _runtimeEndsAt ? _nextHeartbeat : _runtimeEndsAt;
            if (next == DateTimeOffset.MaxValue)
            {
                return;
            }

            var wait = next - _leases.Time.GetUtcNow();
            _timer.Change(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The loop's body: the timer rang.</summary>
    private void OnTimer()
    {
        DateTimeOffset due;
        IReceivedMessage message;
        int delivery;
        lock (this)
        {
            var now = _leases.Time.GetUtcNow();
            if (_stopped || !_heartbeat.IsCompleted)
            {
                return; // stopped, or a renewal is running and arms the timer when it returns
            }

            if (now >= _runtimeEndsAt)
            {
                _runtimeExceeded = true;
            }
            else if (now < _nextHeartbeat)
            {
                Arm(); // woken early (a ring meant for the delivery before, or the max runtime moved): sleep on
                return;
            }

            (due, message, delivery) = (_nextHeartbeat, _message, _delivery);
        }

        if (_runtimeExceeded)
        {
            _leases.Log.LogWarning("Message {MessageId} ({Queue}) reached its max runtime of {MaxRuntime}; cancelling the handler.",
                message.Message.MessageId, message.Queue, _profile.MaxRuntime);
            CancelHandler();
            return;
        }

        var heartbeat = HeartbeatAsync(message, delivery, due);
        lock (this)
        {
            if (!heartbeat.IsCompleted)
            {
                _heartbeat = heartbeat;
            }
        }
    }

    /// <summary>Renews the lease for the heartbeat due at <paramref name="due"/>, then arms the timer for the next.</summary>
    private async Task HeartbeatAsync(IReceivedMessage message, int delivery, DateTimeOffset due)
    {
        try
        {
            var duration = RenewalDuration(_leases.Time.GetUtcNow());
            if (duration is null)
            {
                _leases.Log.LogWarning("Message {MessageId}: the transport's maximum total lease time ({Max}) is reached; the lease will expire.",
                    message.Message.MessageId, _leases.Capabilities.MaxTotalLeaseTime);
                lock (this)
                {
                    _nextHeartbeat = DateTimeOffset.MaxValue; // no more heartbeats; the max runtime still holds
                }

                Arm();
                return;
            }

            if (await RenewAsync(message, delivery, duration.Value, CancellationToken.None).ConfigureAwait(false) is null)
            {
                return; // the lease is lost: the loop ends
            }

            var now = _leases.Time.GetUtcNow();
            var next = due + NextWait(due);
            lock (this)
            {
                _nextHeartbeat = next > now ? next : now; // a loop that fell behind renews at once, once
            }

            Arm();
        }
        catch (Exception ex)
        {
            _leases.Log.LogError(ex, "Lease renewal of message {MessageId} stopped unexpectedly.", message.Message.MessageId);
        }
    }

    /// <summary>The first heartbeat of the delivery held, received at <paramref name="receivedAt"/>: the usual wait, but
    /// never past halfway through the lease left then. The transport took the lease before its receive returned and the
    /// worker read the clock; when that took most of a short lease, the floor of <see cref="NextWait"/> (meant to space out
    /// renewals that fail) would put the first heartbeat after the lease ended, and another worker would take the
    /// message. A lease already ended makes it due at once (<see cref="StartAsync"/> renews before the handler starts).</summary>
    private DateTimeOffset FirstHeartbeat(DateTimeOffset receivedAt)
    {
        var halfLeft = (_message.LeaseExpiresAt - receivedAt) / 2;
        var wait = NextWait(receivedAt);
        return receivedAt + (halfLeft < wait ? halfLeft : wait);
    }

    /// <summary>What is left of the transport's maximum total lease time (SQS: 12 hours from receipt), or null when it
    /// has none.</summary>
    private TimeSpan? TotalLeaseLeft(DateTimeOffset receivedAt, DateTimeOffset now) =>
        _leases.Capabilities.MaxTotalLeaseTime is { } max ? max - (now - receivedAt) : null;

    /// <summary>The wait from <paramref name="from"/> to the next heartbeat: the heartbeat interval, or half the lease
    /// left when that is sooner, but never under a second (or the interval, when shorter) so failing renewals do not
    /// spin.</summary>
    private TimeSpan NextWait(DateTimeOffset from)
    {
        var wait = Min(_profile.HeartbeatInterval, (_message.LeaseExpiresAt - from) / 2);
        var floor = Min(_profile.HeartbeatInterval, TimeSpan.FromSeconds(1));
        return wait > floor ? wait : floor;
    }

    private TimeSpan? RenewalDuration(DateTimeOffset now)
    {
        var duration = _leases.Capabilities.LeaseDurationIsFixed ? _leases.Capabilities.MaxLeaseDuration : _profile.LeaseDuration;
        return TotalLeaseLeft(_receivedAt, now) is not { } left ? duration
            : left <= TimeSpan.Zero ? null
            : Min(left, duration);
    }

    /// <summary>Renews the lease of <paramref name="message"/>, delivery <paramref name="delivery"/>; null when it is lost
    /// (the handler is then cancelled). A transient failure keeps the lease held so far, to be tried again at the next
    /// heartbeat.</summary>
    private async Task<DateTimeOffset?> RenewAsync(IReceivedMessage message, int delivery, TimeSpan duration, CancellationToken cancellationToken)
    {
        if (_leaseLost)
        {
            return null;
        }

        var renewing = LazyInitializer.EnsureInitialized(ref _renewing, static () => new SemaphoreSlim(1, 1));
        await renewing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var expiry = await message.RenewLeaseAsync(duration, cancellationToken).ConfigureAwait(false);
            BusTelemetry.LeaseRenewals.Add(1, _leases.Tag);
            return expiry;
        }
        catch (LeaseLostException) when (_stopped || delivery != _delivery)
        {
            return null; // a renewal that crossed the settlement: the message is settled, not lost
        }
        catch (LeaseLostException ex)
        {
            BusTelemetry.LeasesLost.Add(1, _leases.Tag);
            _leases.Log.LogWarning(ex, "Lease lost on message {MessageId} in {Queue}; cancelling its handler. It may be delivered again.",
                message.Message.MessageId, message.Queue);
            _leaseLost = true;
            CancelHandler();
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _leases.Log.LogWarning(ex, "Renewing the lease on message {MessageId} failed; retrying at the next heartbeat.", message.Message.MessageId);
            return message.LeaseExpiresAt;
        }
        finally
        {
            renewing.Release();
        }
    }

    /// <summary>Cancels the handler's token (made later already cancelled when nobody has read it yet).</summary>
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

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}

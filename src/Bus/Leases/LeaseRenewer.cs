using Bus.Diagnostics;
using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.Leases;

/// <summary>
/// Keeps the lease of one delivery alive from its receive until it is settled, and ends its handler at the max runtime.
/// Started when the message is received (its lease runs from then), owned by the worker that takes the message, which
/// stops it before settling and disposes it after.
/// </summary>
/// <remarks>
/// One loop, driven by one timer armed for whatever comes first: the next heartbeat, or (once the handler started) the
/// end of its max runtime. A heartbeat renews the lease and arms the timer again; the max runtime cancels the handler
/// and ends the loop; a renewal that finds the lease lost cancels the handler and ends the loop. Heartbeats keep a fixed
/// schedule counted from the due time of the one before, so a slow renewal does not push later ones back.
/// </remarks>
internal sealed class LeaseRenewer : IAsyncDisposable
{
    private readonly IReceivedMessage _message;
    private readonly ExecutionProfile _profile;
    private readonly EndpointLeases _leases;
    private readonly DateTimeOffset _receivedAt;
    private readonly object _gate = new();
    private ITimer? _timer; // made with the first thing due (a heartbeat, or the max runtime)
    private DateTimeOffset _nextHeartbeat = DateTimeOffset.MaxValue;
    private DateTimeOffset _runtimeEndsAt = DateTimeOffset.MaxValue;
    private CancellationTokenSource? _handler; // made when the handler first reads its token
    private CancellationTokenRegistration _hardStop;
    private SemaphoreSlim? _renewing; // one renewal at a time (heartbeat or extension); made with the first
    private Task _heartbeat = Task.CompletedTask; // the renewal in progress, if any
    private bool _handlerCancelled;
    private volatile bool _stopped;
    private volatile bool _leaseLost;
    private volatile bool _runtimeExceeded;

    /// <summary>Starts keeping the lease of <paramref name="message"/>, received at <paramref name="receivedAt"/> (now
    /// when not given): its first heartbeat is armed when the transport can renew and the profile asks for it.</summary>
    public LeaseRenewer(IReceivedMessage message, ExecutionProfile profile, EndpointLeases leases, DateTimeOffset? receivedAt = null)
    {
        _message = message;
        _profile = profile;
        _leases = leases;
        _receivedAt = receivedAt ?? leases.Time.GetUtcNow();
        if (leases.Capabilities.CanRenewLease && profile.AutomaticRenewal)
        {
            _nextHeartbeat = _receivedAt + NextWait(_receivedAt);
            Arm();
        }
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
        lock (_gate)
        {
            _runtimeEndsAt = _leases.Time.GetUtcNow() + _profile.MaxRuntime;
        }

        Arm();
        _hardStop = hardStop.UnsafeRegister(static state => ((LeaseRenewer)state!).CancelHandler(), this);
    }

    /// <summary>The handler's token, cancelled by a lost lease, the max runtime or a hard stop. Its source is made on
    /// first read (most handlers never read it), already cancelled when one of those came first.</summary>
    public CancellationToken HandlerToken
    {
        get
        {
            lock (_gate)
            {
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
    }

    /// <summary>Extends the lease by <paramref name="duration"/> from now (a handler's <c>ExtendLeaseAsync</c>), within
    /// the max runtime left and the transport's limits, never shorter than the lease held.</summary>
    public async Task<DateTimeOffset> ExtendAsync(TimeSpan duration, CancellationToken cancellationToken)
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
        DateTimeOffset runtimeEndsAt;
        lock (_gate)
        {
            runtimeEndsAt = _runtimeEndsAt;
        }

        if (runtimeEndsAt != DateTimeOffset.MaxValue)
        {
            var runtimeLeft = runtimeEndsAt - now;
            if (runtimeLeft <= TimeSpan.Zero)
            {
                throw new InvalidOperationException(
                    $"Message '{_message.Message.MessageId}' reached its max runtime of {_profile.MaxRuntime}; its lease is not extended.");
            }

            duration = Min(duration, runtimeLeft + _profile.HeartbeatInterval);
        }

        if (TotalLeaseLeft(now) is { } totalLeft)
        {
            if (totalLeft <= TimeSpan.Zero)
            {
                throw new InvalidOperationException(
                    $"Message '{_message.Message.MessageId}' has been leased for the {capabilities.Name} transport's maximum of {capabilities.MaxTotalLeaseTime}; its lease cannot be extended.");
            }

            duration = Min(duration, totalLeft);
        }

        var held = _message.LeaseExpiresAt - now;
        duration = duration > held ? duration : held; // an extension must not undo a heartbeat

        return await RenewAsync(duration, cancellationToken).ConfigureAwait(false)
            ?? throw new LeaseLostException($"The lease on message '{_message.Message.MessageId}' is lost.");
    }

    /// <summary>Ends the loop: no more heartbeats, no max runtime; waits for a renewal in progress. Idempotent.</summary>
    public Task StopAsync()
    {
        lock (_gate)
        {
            if (_stopped)
            {
                return _heartbeat;
            }

            _stopped = true;
            _timer?.Dispose();
        }

        _hardStop.Dispose();
        return _heartbeat;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _handler?.Dispose();
        _renewing?.Dispose();
    }

    /// <summary>Arms the timer for the next thing due: the next heartbeat or the end of the max runtime.</summary>
    private void Arm()
    {
        lock (_gate)
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
            wait = wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
            if (_timer is null)
            {
                _timer = _leases.Time.CreateTimer(static state => ((LeaseRenewer)state!).OnTimer(), this, wait, Timeout.InfiniteTimeSpan);
            }
            else
            {
                _timer.Change(wait, Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>The loop's body: the timer fired.</summary>
    private void OnTimer()
    {
        DateTimeOffset due;
        lock (_gate)
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
                Arm(); // woken early (the max runtime moved): sleep on
                return;
            }

            due = _nextHeartbeat;
        }

        if (_runtimeExceeded)
        {
            _leases.Log.LogWarning("Message {MessageId} ({Queue}) reached its max runtime of {MaxRuntime}; cancelling the handler.",
                _message.Message.MessageId, _message.Queue, _profile.MaxRuntime);
            CancelHandler();
            return;
        }

        var heartbeat = HeartbeatAsync(due);
        lock (_gate)
        {
            if (!heartbeat.IsCompleted)
            {
                _heartbeat = heartbeat;
            }
        }
    }

    /// <summary>Renews the lease for the heartbeat due at <paramref name="due"/>, then arms the timer for the next.</summary>
    private async Task HeartbeatAsync(DateTimeOffset due)
    {
        try
        {
            var duration = RenewalDuration(_leases.Time.GetUtcNow());
            if (duration is null)
            {
                _leases.Log.LogWarning("Message {MessageId}: the transport's maximum total lease time ({Max}) is reached; the lease will expire.",
                    _message.Message.MessageId, _leases.Capabilities.MaxTotalLeaseTime);
                lock (_gate)
                {
                    _nextHeartbeat = DateTimeOffset.MaxValue; // no more heartbeats; the max runtime still holds
                }

                Arm();
                return;
            }

            if (await RenewAsync(duration.Value, CancellationToken.None).ConfigureAwait(false) is null)
            {
                return; // the lease is lost: the loop ends
            }

            var now = _leases.Time.GetUtcNow();
            var next = due + NextWait(due);
            lock (_gate)
            {
                _nextHeartbeat = next > now ? next : now; // a loop that fell behind renews at once, once
            }

            Arm();
        }
        catch (Exception ex)
        {
            _leases.Log.LogError(ex, "Lease renewal of message {MessageId} stopped unexpectedly.", _message.Message.MessageId);
        }
    }

    /// <summary>What is left of the transport's maximum total lease time (SQS: 12 hours from receipt), or null when it
    /// has none.</summary>
    private TimeSpan? TotalLeaseLeft(DateTimeOffset now) =>
        _leases.Capabilities.MaxTotalLeaseTime is { } max ? max - (now - _receivedAt) : null;

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
        return TotalLeaseLeft(now) is not { } left ? duration
            : left <= TimeSpan.Zero ? null
            : Min(left, duration);
    }

    /// <summary>Renews the lease; null when it is lost (the handler is then cancelled). A transient failure keeps the
    /// lease held so far, to be tried again at the next heartbeat.</summary>
    private async Task<DateTimeOffset?> RenewAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        if (_leaseLost)
        {
            return null;
        }

        var renewing = LazyInitializer.EnsureInitialized(ref _renewing, static () => new SemaphoreSlim(1, 1));
        await renewing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var expiry = await _message.RenewLeaseAsync(duration, cancellationToken).ConfigureAwait(false);
            BusTelemetry.LeaseRenewals.Add(1, _leases.Tag);
            return expiry;
        }
        catch (LeaseLostException) when (_stopped)
        {
            return null; // a heartbeat that crossed the settlement: the message is settled, not lost
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
            _leases.Log.LogWarning(ex, "Renewing the lease on message {MessageId} failed; retrying at the next heartbeat.", _message.Message.MessageId);
            return _message.LeaseExpiresAt;
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
        lock (_gate)
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

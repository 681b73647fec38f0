using Bus.Diagnostics;
using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.Leases;

/// <summary>
/// Keeps the lease of one received message alive with heartbeats from the moment it is received until it is settled.
/// Once the handler starts, its max runtime is counted: at the limit the handler is cancelled and renewals stop.
/// When a renewal reports the lease lost, the handler is cancelled so the message is not settled a second time.
/// </summary>
internal sealed class LeaseRenewer : IAsyncDisposable
{
    private readonly IReceivedMessage _message;
    private readonly ExecutionProfile _profile;
    private readonly TransportCapabilities _capabilities;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _renewing = new(1, 1);
    private readonly DateTimeOffset _receivedAt;
    private readonly KeyValuePair<string, object?> _tag;
    private Task? _loop;

    public LeaseRenewer(IReceivedMessage message, ExecutionProfile profile, TransportCapabilities capabilities, TimeProvider time, ILogger log, KeyValuePair<string, object?> tag)
    {
        _message = message;
        _profile = profile;
        _capabilities = capabilities;
        _time = time;
        _log = log;
        _tag = tag;
        _receivedAt = time.GetUtcNow();
        RuntimeExceeded = new CancellationTokenSource();
    }

    /// <summary>Cancelled when the lease is lost.</summary>
    public CancellationTokenSource LeaseLost { get; } = new();

    /// <summary>Cancelled when the max runtime is reached (counting from <see cref="BeginHandling"/>).</summary>
    public CancellationTokenSource RuntimeExceeded { get; private set; }

    /// <summary>Renewals made so far.</summary>
    public int Renewals { get; private set; }

    public ExecutionProfile Profile => _profile;

    public void Start()
    {
        if (_capabilities.CanRenewLease && _profile.AutomaticRenewal)
        {
            _loop = Task.Run(RunAsync);
        }
    }

    /// <summary>The handler starts: its max runtime starts counting.</summary>
    public void BeginHandling()
    {
        var old = RuntimeExceeded;
        RuntimeExceeded = new CancellationTokenSource(_profile.MaxRuntime, _time);
        RuntimeExceeded.Token.Register(static state =>
        {
            var self = (LeaseRenewer)state!;
            self._log.LogWarning("Message {MessageId} ({Queue}) reached its max runtime of {MaxRuntime}; cancelling the handler.",
                self._message.Message.MessageId, self._message.Queue, self._profile.MaxRuntime);
        }, this);
        old.Dispose();
    }

    public async Task<DateTimeOffset> ExtendAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        if (!_capabilities.CanRenewLease)
        {
            throw new NotSupportedException($"The {_capabilities.Name} transport cannot extend leases.");
        }

        if (duration > _capabilities.MaxLeaseDuration)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration,
                $"The {_capabilities.Name} transport grants leases of at most {_capabilities.MaxLeaseDuration}.");
        }

        return await RenewAsync(duration, cancellationToken).ConfigureAwait(false)
            ?? throw new LeaseLostException($"The lease on message '{_message.Message.MessageId}' is lost.");
    }

    public async ValueTask StopAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stop.Dispose();
        _renewing.Dispose();
        LeaseLost.Dispose();
        RuntimeExceeded.Dispose();
    }

    private async Task RunAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested && !RuntimeExceeded.IsCancellationRequested)
            {
                var now = _time.GetUtcNow();
                await Task.Delay(NextWait(now), _time, _stop.Token).ConfigureAwait(false);
                if (RuntimeExceeded.IsCancellationRequested)
                {
                    return; // a job past its max runtime may not hold its lease any longer
                }

                var duration = RenewalDuration(_time.GetUtcNow());
                if (duration is null)
                {
                    _log.LogWarning("Message {MessageId}: the transport's maximum total lease time ({Max}) is reached; the lease will expire.",
                        _message.Message.MessageId, _capabilities.MaxTotalLeaseTime);
                    return;
                }

                if (await RenewAsync(duration.Value, _stop.Token).ConfigureAwait(false) is null)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

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
        var duration = _capabilities.LeaseDurationIsFixed ? _capabilities.MaxLeaseDuration : _profile.LeaseDuration;
        if (_capabilities.MaxTotalLeaseTime is { } max)
        {
            var left = max - (now - _receivedAt);
            if (left <= TimeSpan.Zero)
            {
                return null;
            }

            if (left < duration)
            {
                duration = left;
            }
        }

        return duration;
    }

    private async Task<DateTimeOffset?> RenewAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        if (LeaseLost.IsCancellationRequested)
        {
            return null;
        }

        await _renewing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var expiry = await _message.RenewLeaseAsync(duration, cancellationToken).ConfigureAwait(false);
            Renewals++;
            BusTelemetry.LeaseRenewals.Add(1, _tag);
            return expiry;
        }
        catch (LeaseLostException ex)
        {
            BusTelemetry.LeasesLost.Add(1, _tag);
            _log.LogWarning(ex, "Lease lost on message {MessageId} in {Queue}; cancelling its handler. It may be delivered again.",
                _message.Message.MessageId, _message.Queue);
            await LeaseLost.CancelAsync().ConfigureAwait(false);
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A transient failure: try again at the next heartbeat, while the lease still holds.
            _log.LogWarning(ex, "Renewing the lease on message {MessageId} failed; retrying at the next heartbeat.", _message.Message.MessageId);
            return _message.LeaseExpiresAt;
        }
        finally
        {
            _renewing.Release();
        }
    }
}

using Bus.Transports;

namespace Bus.Sqlite.Transport;

/// <summary>One delivery under a row lease: settles by row id and lease token, so a stale lease cannot touch a
/// message that was received again.</summary>
internal sealed class SqliteReceivedMessage(SqliteTransport transport, string queue, LeasedRow row) : IReceivedMessage
{
    /// <summary>The least lease left for a completion to be queued rather than awaited: far more than the write queue
    /// takes to reach it.</summary>
    internal static readonly TimeSpan QueuedCompletionMargin = TimeSpan.FromSeconds(5);

    private DateTimeOffset _expiresAt = row.LeaseExpiresAt;
    private bool _completionQueued;

    public TransportMessage Message => row.Message;

    public string Queue => queue;

    public int ReceiveCount => row.ReceiveCount;

    public DateTimeOffset LeaseExpiresAt => _expiresAt;

    public async Task<DateTimeOffset> RenewLeaseAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(duration, transport.Capabilities.MaxLeaseDuration);
        transport.ThrowIfDisposed();
        EnsureHeld(!_completionQueued); // settled already
        var expiresAt = transport.Time.GetUtcNow() + duration;
        EnsureHeld(await transport.Table.RenewAsync(row.Id, row.Token, expiresAt, cancellationToken).ConfigureAwait(false));
        _expiresAt = expiresAt;
        return expiresAt;
    }

    public async ValueTask BeginAttemptAsync(CancellationToken cancellationToken)
    {
        transport.ThrowIfDisposed();
        EnsureHeld(!_completionQueued); // settled already
        EnsureHeld(await transport.Table.BeginAttemptAsync(row.Id, row.Token, row.ReceiveCount, cancellationToken).ConfigureAwait(false));
    }

    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        transport.ThrowIfDisposed();
        EnsureHeld(!_completionQueued); // settled already
        if (transport.Time.GetUtcNow() < _expiresAt - QueuedCompletionMargin)
        {
            // Nobody else can take the row while its lease runs: the worker need not wait for the delete.
            _completionQueued = true;
            transport.Table.QueueCompletion(row.Id, row.Token);
            return;
        }

        EnsureHeld(await transport.Table.CompleteAsync(row.Id, row.Token, cancellationToken).ConfigureAwait(false));
    }

    public Task AbandonAsync(TimeSpan delay, CancellationToken cancellationToken) => GiveBackAsync(delay, row.ReceiveCount, cancellationToken);

    public Task ReleaseAsync(TimeSpan delay, CancellationToken cancellationToken) => GiveBackAsync(delay, row.ReceiveCount - 1, cancellationToken);

    public async Task DeadLetterAsync(FailureDetails failure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(failure);
        transport.ThrowIfDisposed();
        EnsureHeld(!_completionQueued); // settled already
        var deadLettered = failure.AddTo(row.Message);
        EnsureHeld(await transport.Table.DeadLetterAsync(
            row.Id, row.Token, queue, deadLettered, row.ReceiveCount, failure.FailedAt, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Ends the lease with <paramref name="attempts"/> counted: an abandon counts this delivery's attempt
    /// (begun or not), a release takes it back.</summary>
    private async Task GiveBackAsync(TimeSpan delay, int attempts, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(delay, transport.Capabilities.MaxDelay);
        transport.ThrowIfDisposed();
        EnsureHeld(!_completionQueued); // settled already
        var visibleAt = transport.Time.GetUtcNow() + delay;
        EnsureHeld(await transport.Table.ReturnAsync(row.Id, row.Token, visibleAt, attempts, cancellationToken).ConfigureAwait(false));
        if (delay == TimeSpan.Zero)
        {
            transport.Signals.Notify(queue);
        }
    }

    private void EnsureHeld(bool held)
    {
        if (!held)
        {
            throw new LeaseLostException(
                $"The lease on message '{row.Message.MessageId}' in queue '{queue}' was lost: it expired and the message was received again, or it was already settled.");
        }
    }
}

using Bus.Transports;

namespace Bus.PostgreSql.Transport;

/// <summary>One delivery under a row lease: settles by row id and lease token, so a stale lease cannot touch a
/// message that was received again. Holds what its handler sent (<see cref="TryHold"/>) and writes it in the
/// transaction that settles it.</summary>
internal sealed class PostgreSqlReceivedMessage(PostgreSqlTransport transport, string queue, LeasedRow row) : IReceivedMessage
{
    private readonly Lock _gate = new();
    private DateTimeOffset _expiresAt = row.LeaseExpiresAt;
    private List<OutgoingMessage>? _held;
    private bool _settling;

    public TransportMessage Message => row.Message;

    public string Queue => queue;

    public int ReceiveCount => row.ReceiveCount;

    public DateTimeOffset LeaseExpiresAt => _expiresAt;

    /// <summary>Holds <paramref name="messages"/> to write when this delivery is settled; false when they are not for
    /// this delivery's transport or it is being settled already (then they are sent at once).</summary>
    public bool TryHold(PostgreSqlTransport sender, IReadOnlyList<OutgoingMessage> messages)
    {
        if (!ReferenceEquals(sender, transport))
        {
            return false;
        }

        lock (_gate)
        {
            if (_settling)
            {
                return false;
            }

            (_held ??= []).AddRange(messages);
            return true;
        }
    }

    public async Task<DateTimeOffset> RenewLeaseAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(duration, transport.Capabilities.MaxLeaseDuration);
        transport.ThrowIfDisposed();
        var expiresAt = transport.Time.GetUtcNow() + duration;
        EnsureHeld(await transport.Renewals.RenewAsync(row, expiresAt, cancellationToken).ConfigureAwait(false));
        _expiresAt = expiresAt;
        return expiresAt;
    }

    public async ValueTask BeginAttemptAsync(CancellationToken cancellationToken)
    {
        transport.ThrowIfDisposed();
        EnsureHeld(await transport.Table.BeginAttemptAsync(row, cancellationToken).ConfigureAwait(false));
    }

    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        transport.ThrowIfDisposed();
        var held = TakeHeld();
        EnsureHeld(await transport.Table.CompleteAsync(row, held, transport.Time.GetUtcNow(), cancellationToken).ConfigureAwait(false));
        Wake(held);
    }

    public Task AbandonAsync(TimeSpan delay, CancellationToken cancellationToken) => GiveBackAsync(delay, row.ReceiveCount, cancellationToken);

    public Task ReleaseAsync(TimeSpan delay, CancellationToken cancellationToken) => GiveBackAsync(delay, row.ReceiveCount - 1, cancellationToken);

    public async Task DeadLetterAsync(FailureDetails failure, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(failure);
        transport.ThrowIfDisposed();
        var held = TakeHeld();
        EnsureHeld(await transport.Table.DeadLetterAsync(row, failure, held, transport.Time.GetUtcNow(), cancellationToken).ConfigureAwait(false));
        Wake(held);
    }

    /// <summary>Ends the lease with <paramref name="attempts"/> counted: an abandon counts this delivery's attempt
    /// (begun or not), a release takes it back.</summary>
    private async Task GiveBackAsync(TimeSpan delay, int attempts, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(delay, transport.Capabilities.MaxDelay);
        transport.ThrowIfDisposed();
        var held = TakeHeld();
        var now = transport.Time.GetUtcNow();
        EnsureHeld(await transport.Table.ReturnAsync(row, queue, now + delay, attempts, held, now, cancellationToken).ConfigureAwait(false));
        transport.Notifications.Notify(queue);
        Wake(held);
    }

    /// <summary>What the handler sent, written with the settlement; later sends go out at once.</summary>
    private List<OutgoingMessage>? TakeHeld()
    {
        lock (_gate)
        {
            _settling = true;
            var held = _held;
            _held = null;
            return held;
        }
    }

    private void Wake(List<OutgoingMessage>? sent)
    {
        if (sent is null)
        {
            return;
        }

        foreach (var outgoing in sent)
        {
            if (outgoing.Destination.Kind == DestinationKind.Queue)
            {
                transport.Notifications.Notify(outgoing.Destination.Name);
            }
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

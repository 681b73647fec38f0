using Bus.Transports;

namespace Bus.Sqlite.Transport;

/// <summary>The dead letters in the <c>bus_dead_letters</c> table: peek, redrive and purge, all or chosen ids.</summary>
internal sealed class SqliteDeadLetterQueue(SqliteTransport transport) : IDeadLetterQueue
{
    public async Task<IReadOnlyList<DeadLetter>> PeekAsync(string queue, int maxCount, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        transport.ThrowIfDisposed();
        var messages = await transport.Table.PeekDeadLettersAsync(queue, maxCount, cancellationToken).ConfigureAwait(false);
        return messages.Select(m => FailureDetails.Read(m, queue)).ToList();
    }

    public async Task<int> RedriveAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        transport.ThrowIfDisposed();
        var moved = await transport.Table.RedriveAsync(queue, messageIds, transport.Time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        if (moved > 0)
        {
            transport.Signals.Notify(queue);
        }

        return moved;
    }

    public Task<int> PurgeAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        transport.ThrowIfDisposed();
        return transport.Table.PurgeAsync(queue, messageIds, cancellationToken);
    }
}

using Bus.Transports;

namespace Bus.PostgreSql.Transport;

/// <summary>The dead letters in the <c>dead_letters</c> table: peek, redrive and purge, all or chosen ids.</summary>
internal sealed class PostgreSqlDeadLetterQueue(PostgreSqlTransport transport) : IDeadLetterQueue
{
    public async Task<IReadOnlyList<DeadLetter>> PeekAsync(string queue, int maxCount, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        transport.ThrowIfDisposed();
        return await transport.Table.PeekDeadLettersAsync(queue, maxCount, cancellationToken).ConfigureAwait(false);
    }

    public async Task<int> RedriveAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        transport.ThrowIfDisposed();
        var moved = await transport.Table.RedriveAsync(queue, messageIds, transport.Time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        if (moved > 0)
        {
            transport.Notifications.Notify(queue);
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

using System.Globalization;
using Bus.Transports;

namespace Bus.PostgreSql.Transport;

/// <summary>The dead letters in the <c>dead_letters</c> table: peek, list with filters (in SQL, paged by row id), redrive
/// and purge, all or chosen ids.</summary>
internal sealed class PostgreSqlDeadLetterQueue(PostgreSqlTransport transport) : IDeadLetterQueue
{
    public async Task<IReadOnlyList<DeadLetter>> PeekAsync(string queue, int maxCount, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        transport.ThrowIfDisposed();
        return await transport.Table.PeekDeadLettersAsync(queue, maxCount, cancellationToken).ConfigureAwait(false);
    }

    /// <remarks>Every filter is applied by the server; a page is the next rows after the previous page's last row id
    /// (the token), so dead letters removed or added between pages shift nothing. The reason matches case-insensitively
    /// by PostgreSQL's <c>lower()</c>.</remarks>
    public async Task<DeadLetterPage> ListAsync(string queue, DeadLetterQuery query, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        transport.ThrowIfDisposed();
        var after = ReadToken(query.ContinuationToken);

        // One row more than the page: whether there is a next page.
        var rows = await transport.Table.ListDeadLettersAsync(queue, query, after, query.PageSize + 1, cancellationToken).ConfigureAwait(false);
        var page = rows.Take(query.PageSize).ToList();
        return new DeadLetterPage(page.Select(r => r.Letter).ToList(), rows.Count > query.PageSize ? Token(page[^1].Id) : null);

        static long ReadToken(string? token) =>
            token is null ? 0
            : token.StartsWith("r:", StringComparison.Ordinal) && long.TryParse(token.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id
            : throw new ArgumentException(
                $"The continuation token '{token}' was not made by the PostgreSQL dead-letter queue; pass the token of its previous page, or none for the first page.",
                nameof(query));

        static string Token(long id) => string.Create(CultureInfo.InvariantCulture, $"r:{id}");
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

namespace Bus.Transports;

/// <summary>Access to the dead letters of an endpoint queue.</summary>
public interface IDeadLetterQueue
{
    /// <summary>How many dead letters <see cref="ListAsync"/> looks at, at most, where the transport cannot filter
    /// natively (its default implementation peeks that many and filters in memory).</summary>
    public const int ScanLimit = 10_000;

    /// <summary>Lists up to <paramref name="maxCount"/> dead letters of <paramref name="queue"/> without removing them.</summary>
    Task<IReadOnlyList<DeadLetter>> PeekAsync(string queue, int maxCount, CancellationToken cancellationToken);

    /// <summary>
    /// Lists the dead letters of <paramref name="queue"/> that match <paramref name="query"/> (message type, failure
    /// reason, time, ids), one page at a time, without removing them. Pass the page's continuation token back for the
    /// next page.
    /// </summary>
    /// <remarks>The default implementation, for transports that do not override it, peeks up to
    /// <see cref="ScanLimit"/> dead letters, filters them in memory and pages by position (a dead letter removed between
    /// two pages shifts the next page by one). The built-in transports override it: SQLite and PostgreSQL filter in SQL
    /// and page by row, Service Bus pages by sequence number, in-memory and SQS page by position.</remarks>
    /// <exception cref="ArgumentException">The query is invalid or its token was not made by this queue.</exception>
    async Task<DeadLetterPage> ListAsync(string queue, DeadLetterQuery query, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        var all = await PeekAsync(queue, ScanLimit, cancellationToken).ConfigureAwait(false);
        return query.PageByOffset(all);
    }

    /// <summary>Moves dead letters back to <paramref name="queue"/> with their identity (message id, body, original
    /// headers); the failure headers are removed and the attempt count starts again. Null ids means all.</summary>
    /// <returns>How many were moved.</returns>
    Task<int> RedriveAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken);

    /// <summary>Deletes dead letters for good. Null ids means all.</summary>
    /// <returns>How many were deleted.</returns>
    Task<int> PurgeAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken);
}

/// <summary>A dead-lettered message: the original message and why it failed.</summary>
/// <param name="Message">The original body and headers, without the failure headers.</param>
/// <param name="Failure">Why and when it was dead-lettered.</param>
public sealed record DeadLetter(TransportMessage Message, FailureDetails Failure);

using System.Globalization;

namespace Bus.Transports;

/// <summary>
/// Which dead letters to list, and which page: every filter that is set must match (null means any). Used with
/// <see cref="IDeadLetterQueue.ListAsync"/>.
/// </summary>
public sealed record DeadLetterQuery
{
    /// <summary>The largest page a query may ask for.</summary>
    public const int MaxPageSize = 1_000;

    /// <summary>Wire names of the message types to list (the <c>bus-message-type</c> header, e.g.
    /// "billing.close-month"), matched exactly; null for any type.</summary>
    public IReadOnlyCollection<string>? MessageTypes { get; init; }

    /// <summary>Text the failure reason must contain (case-insensitive); null for any reason.</summary>
    public string? ReasonContains { get; init; }

    /// <summary>Only dead letters that failed at or after this time; null for no lower bound.</summary>
    public DateTimeOffset? FailedFrom { get; init; }

    /// <summary>Only dead letters that failed before this time; null for no upper bound.</summary>
    public DateTimeOffset? FailedBefore { get; init; }

    /// <summary>Only these message ids; null for any id.</summary>
    public IReadOnlyCollection<string>? MessageIds { get; init; }

    /// <summary>How many dead letters a page holds at most (1 to <see cref="MaxPageSize"/>; default 100).</summary>
    public int PageSize { get; init; } = 100;

    /// <summary>Where to go on: the <see cref="DeadLetterPage.ContinuationToken"/> of the previous page, or null for the
    /// first page. Tokens are opaque and belong to the transport (and query) that made them.</summary>
    public string? ContinuationToken { get; init; }

    /// <summary>Throws when the query cannot be run, saying what to change.</summary>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public void Validate()
    {
        if (PageSize is < 1 or > MaxPageSize)
        {
            throw new ArgumentException($"DeadLetterQuery.PageSize must be between 1 and {MaxPageSize}; it is {PageSize}.", nameof(PageSize));
        }

        if (FailedFrom is { } from && FailedBefore is { } before && from >= before)
        {
            throw new ArgumentException(
                $"DeadLetterQuery.FailedFrom ({from:O}) must be earlier than FailedBefore ({before:O}).", nameof(FailedFrom));
        }

        if (MessageTypes is { Count: 0 } || MessageIds is { Count: 0 })
        {
            throw new ArgumentException("DeadLetterQuery.MessageTypes and MessageIds must be null (any) or hold at least one value.", nameof(MessageTypes));
        }
    }

    /// <summary>Whether <paramref name="letter"/> passes every filter of this query (paging aside).</summary>
    public bool Matches(DeadLetter letter)
    {
        ArgumentNullException.ThrowIfNull(letter);
        if (MessageTypes is not null
            && !(letter.Message.Headers.TryGetValue(MessageHeaders.MessageType, out var type) && MessageTypes.Contains(type, StringComparer.Ordinal)))
        {
            return false;
        }

        if (ReasonContains is { Length: > 0 } reason && !letter.Failure.Reason.Contains(reason, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        if ((FailedFrom is { } from && letter.Failure.FailedAt < from) || (FailedBefore is { } before && letter.Failure.FailedAt >= before))
        {
            return false;
        }

        return MessageIds is null || (letter.Message.MessageId is { } id && MessageIds.Contains(id, StringComparer.Ordinal));
    }

    /// <summary>The offset a token made by <see cref="OffsetToken"/> stands for (0 for none).</summary>
    /// <exception cref="ArgumentException">The token was not made by <see cref="OffsetToken"/>.</exception>
    public static int ReadOffsetToken(string? token)
    {
        if (token is null)
        {
            return 0;
        }

        return token.StartsWith("o:", StringComparison.Ordinal)
            && int.TryParse(token.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            ? offset
            : throw new ArgumentException($"The continuation token '{token}' was not made by this dead-letter queue; pass the token of its previous page, or none for the first page.", nameof(token));
    }

    /// <summary>A continuation token for transports that page by position: the number of matching dead letters already
    /// returned.</summary>
    public static string OffsetToken(int offset) => string.Create(CultureInfo.InvariantCulture, $"o:{offset}");

    /// <summary>Filters and pages <paramref name="all"/> (in the transport's order) by position: the way
    /// <see cref="IDeadLetterQueue.ListAsync"/> works where the transport cannot filter or page natively.</summary>
    public DeadLetterPage PageByOffset(IEnumerable<DeadLetter> all)
    {
        ArgumentNullException.ThrowIfNull(all);
        Validate();
        var offset = ReadOffsetToken(ContinuationToken);
        var page = new List<DeadLetter>(Math.Min(PageSize, 64));
        var more = false;
        var skipped = 0;
        foreach (var letter in all)
        {
            if (!Matches(letter))
            {
                continue;
            }

            if (skipped < offset)
            {
                skipped++;
                continue;
            }

            if (page.Count == PageSize)
            {
                more = true;
                break;
            }

            page.Add(letter);
        }

        return new DeadLetterPage(page, more ? OffsetToken(offset + page.Count) : null);
    }
}

/// <summary>One page of dead letters.</summary>
/// <param name="Items">The dead letters of this page, in the transport's order.</param>
/// <param name="ContinuationToken">Pass it as <see cref="DeadLetterQuery.ContinuationToken"/> for the next page; null when
/// this was the last.</param>
public sealed record DeadLetterPage(IReadOnlyList<DeadLetter> Items, string? ContinuationToken);

using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Bus.Workflows;

/// <summary>The order of a workflow listing.</summary>
public enum WorkflowListOrder
{
    /// <summary>Most recently started first (by <see cref="WorkflowInstance.CreatedAt"/>, then by id); the order does
    /// not change as instances are updated, so paging neither repeats nor skips an instance.</summary>
    NewestFirst,

    /// <summary>By instance id, ordinal.</summary>
    ById,
}

/// <summary>What to list with <see cref="IWorkflowStore.ListAsync"/>: the instances of one workflow, optionally of one
/// status, a page at a time.</summary>
/// <param name="WorkflowName">The workflow's registered name.</param>
public sealed record WorkflowListQuery(string WorkflowName)
{
    /// <summary>The largest <see cref="PageSize"/>.</summary>
    public const int MaxPageSize = 1000;

    /// <summary>Only instances in this status; all when null.</summary>
    public WorkflowStatus? Status { get; init; }

    /// <summary>Newest first (default) or by id.</summary>
    public WorkflowListOrder Order { get; init; } = WorkflowListOrder.NewestFirst;

    /// <summary>At most this many instances per page, 1 to <see cref="MaxPageSize"/>. Default 50.</summary>
    public int PageSize { get; init; } = 50;

    /// <summary>The <see cref="WorkflowPage.ContinuationToken"/> of the previous page, or null for the first page. A
    /// token is only valid for the same store, workflow, status and order.</summary>
    public string? ContinuationToken { get; init; }

    /// <summary>Throws when the query is not valid, saying what to change.</summary>
    /// <exception cref="ArgumentException">The workflow name is empty, the page size out of range, the order
    /// unknown or the continuation token malformed.</exception>
    public void Validate()
    {
        if (string.IsNullOrEmpty(WorkflowName))
        {
            throw new ArgumentException("Name the workflow to list (its registered name).", nameof(WorkflowName));
        }

        if (PageSize is < 1 or > MaxPageSize)
        {
            throw new ArgumentOutOfRangeException(nameof(PageSize), PageSize, $"The page size must be between 1 and {MaxPageSize}.");
        }

        if (!Enum.IsDefined(Order))
        {
            throw new ArgumentOutOfRangeException(nameof(Order), Order, "Order by NewestFirst or ById.");
        }

        if (Status is { } status && !Enum.IsDefined(status))
        {
            throw new ArgumentOutOfRangeException(nameof(Status), status, "Filter by Running, Completed or Failed, or leave the status null.");
        }

        _ = WorkflowListCursor.Parse(ContinuationToken, Order);
    }
}

/// <summary>One page of a workflow listing.</summary>
/// <param name="Instances">The instances of this page, in the query's order.</param>
/// <param name="ContinuationToken">Pass as <see cref="WorkflowListQuery.ContinuationToken"/> for the next page; null
/// when this is the last page.</param>
public sealed record WorkflowPage(IReadOnlyList<WorkflowInstance> Instances, string? ContinuationToken)
{
    /// <summary>
    /// The page of <paramref name="query"/> out of every instance of its workflow: filters by status, sorts, skips to
    /// the continuation token and takes a page. For stores that cannot sort on the server (DynamoDB, Azure Tables, in
    /// memory); their tokens are <see cref="WorkflowListCursor"/>s keyed on <see cref="DateTimeOffset.UtcTicks"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The query is not valid.</exception>
    public static WorkflowPage Of(IEnumerable<WorkflowInstance> instances, WorkflowListQuery query)
    {
        ArgumentNullException.ThrowIfNull(instances);
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        var after = WorkflowListCursor.Parse(query.ContinuationToken, query.Order);
        var matching = instances.Where(i => i.WorkflowName == query.WorkflowName && (query.Status is null || i.Status == query.Status));
        var ordered = query.Order == WorkflowListOrder.NewestFirst
            ? matching.OrderByDescending(i => i.CreatedAt.UtcTicks).ThenBy(i => i.Id, StringComparer.Ordinal)
            : matching.OrderBy(i => i.Id, StringComparer.Ordinal);
        var rest = after is null ? ordered : ordered.Where(i => after.Precedes(query.Order, i.CreatedAt.UtcTicks, i.Id));
        var page = rest.Take(query.PageSize + 1).ToList();
        return Build(page, query, i => i.CreatedAt.UtcTicks);
    }

    /// <summary>The page from up to <c>PageSize + 1</c> instances read in order: the extra one only says there is more.</summary>
    /// <param name="readAhead">The instances read, in the query's order; at most one more than the page size.</param>
    /// <param name="query">The query.</param>
    /// <param name="sortKey">The store's newest-first sort key of an instance (e.g. its UTC ticks or microseconds).</param>
    public static WorkflowPage Build(IReadOnlyList<WorkflowInstance> readAhead, WorkflowListQuery query, Func<WorkflowInstance, long> sortKey)
    {
        ArgumentNullException.ThrowIfNull(readAhead);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(sortKey);
        if (readAhead.Count <= query.PageSize)
        {
            return new WorkflowPage(readAhead, null);
        }

        var page = readAhead.Take(query.PageSize).ToList();
        var last = page[^1];
        var cursor = new WorkflowListCursor(query.Order == WorkflowListOrder.NewestFirst ? sortKey(last) : 0, last.Id);
        return new WorkflowPage(page, cursor.ToToken(query.Order));
    }
}

/// <summary>Where a workflow listing stopped: the last instance's sort key (newest-first order) and id. Serialized as
/// an opaque continuation token.</summary>
/// <param name="SortKey">The last instance's creation time as the store sorts it (0 when ordered by id).</param>
/// <param name="Id">The last instance's id.</param>
public sealed record WorkflowListCursor(long SortKey, string Id)
{
    private const string NewestFirstPrefix = "n1|";
    private const string ByIdPrefix = "i1|";

    /// <summary>Whether an instance with this sort key and id comes after the cursor: in newest-first order a smaller
    /// key, or the same key and a greater id; in id order a greater id.</summary>
    public bool Precedes(WorkflowListOrder order, long sortKey, string id) =>
        order == WorkflowListOrder.ById
            ? string.CompareOrdinal(id, Id) > 0
            : sortKey < SortKey || (sortKey == SortKey && string.CompareOrdinal(id, Id) > 0);

    /// <summary>The token for this cursor.</summary>
    public string ToToken(WorkflowListOrder order)
    {
        var text = order == WorkflowListOrder.NewestFirst
            ? NewestFirstPrefix + SortKey.ToString(CultureInfo.InvariantCulture) + "|" + Id
            : ByIdPrefix + Id;
        return Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));
    }

    /// <summary>The cursor a token names, or null for no token.</summary>
    /// <exception cref="ArgumentException">The token is not one a listing in this order returned.</exception>
    public static WorkflowListCursor? Parse(string? token, WorkflowListOrder order)
    {
        if (token is null)
        {
            return null;
        }

        string text;
        try
        {
            text = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token));
        }
        catch (FormatException)
        {
            throw Malformed();
        }

        if (order == WorkflowListOrder.ById && text.StartsWith(ByIdPrefix, StringComparison.Ordinal) && text.Length > ByIdPrefix.Length)
        {
            return new WorkflowListCursor(0, text[ByIdPrefix.Length..]);
        }

        if (order == WorkflowListOrder.NewestFirst && text.StartsWith(NewestFirstPrefix, StringComparison.Ordinal))
        {
            var rest = text.AsSpan(NewestFirstPrefix.Length);
            var bar = rest.IndexOf('|');
            if (bar > 0 && bar < rest.Length - 1 && long.TryParse(rest[..bar], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var key))
            {
                return new WorkflowListCursor(key, rest[(bar + 1)..].ToString());
            }
        }

        throw Malformed();

        static ArgumentException Malformed() => new(
            "The continuation token is not one this listing returned (for this order). Pass the token of the previous page unchanged, or none for the first page.",
            "ContinuationToken");
    }
}

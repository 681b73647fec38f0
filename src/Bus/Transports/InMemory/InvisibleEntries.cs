namespace Bus.Transports.InMemory;

/// <summary>
/// The delayed and leased entries of an <see cref="InMemoryQueue"/>, by when they become visible. Records added in
/// time order (leases: a receive leases its messages for one duration, so each expires after the one before) wait in
/// a first-in-first-out ring; any other (a delay, a renewal, a shorter lease) in a heap. A record goes stale when its
/// entry moves on (settled, renewed, made ready): stale records are dropped when they reach the front, or all at once
/// when they outnumber the live ones, so a settled message is not kept reachable until its lease would have ended.
/// Not thread-safe: the queue's lock guards it.
/// </summary>
internal sealed class InvisibleEntries
{
    /// <summary>Stale records allowed beyond twice the live ones before they are dropped in bulk.</summary>
    private const int CompactionSlack = 64;

    private readonly Queue<Record> _inOrder = new();
    private readonly PriorityQueue<Record, DateTimeOffset> _outOfOrder = new();
    private readonly List<Record> _compacting = [];
    private DateTimeOffset _lastInOrder = DateTimeOffset.MinValue;
    private int _live; // entries whose current record is here

    /// <summary>Makes <paramref name="entry"/> invisible until <paramref name="until"/> (a record of it already here
    /// goes stale).</summary>
    public void Add(InMemoryQueue.Entry entry, DateTimeOffset until)
    {
        if (!entry.IsInvisible)
        {
            entry.IsInvisible = true;
            _live++;
        }

        entry.Version++;
        var record = new Record(entry, entry.Version, until);
        if (until >= _lastInOrder || _inOrder.Count == 0)
        {
            _inOrder.Enqueue(record);
            _lastInOrder = until;
        }
        else
        {
            _outOfOrder.Enqueue(record, until);
        }

        if (_inOrder.Count + _outOfOrder.Count > (2 * _live) + CompactionSlack)
        {
            Compact();
        }
    }

    /// <summary>The entry is no longer invisible (settled, or ready again): its record goes stale.</summary>
    public void Leave(InMemoryQueue.Entry entry)
    {
        if (entry.IsInvisible)
        {
            entry.IsInvisible = false;
            entry.Version++;
            _live--;
        }
    }

    /// <summary>Takes the earliest entry that is visible again at <paramref name="now"/>, if any (no longer invisible).</summary>
    public bool TryTakeDue(DateTimeOffset now, out InMemoryQueue.Entry entry)
    {
        if (Earliest() is { } earliest && earliest.Record.At <= now)
        {
            if (earliest.InOrder)
            {
                _inOrder.Dequeue();
            }
            else
            {
                _outOfOrder.Dequeue();
            }

            entry = earliest.Record.Entry;
            Leave(entry);
            return true;
        }

        entry = null!;
        return false;
    }

    /// <summary>When the earliest invisible entry becomes visible, or null when there is none.</summary>
    public DateTimeOffset? NextAt() => Earliest()?.Record.At;

    /// <summary>The earliest live record (stale ones at the fronts are dropped on the way).</summary>
    private (Record Record, bool InOrder)? Earliest()
    {
        while (_inOrder.TryPeek(out var first) && first.IsStale)
        {
            _inOrder.Dequeue();
        }

        while (_outOfOrder.TryPeek(out var top, out _) && top.IsStale)
        {
            _outOfOrder.Dequeue();
        }

        var hasInOrder = _inOrder.TryPeek(out var a);
        var hasOutOfOrder = _outOfOrder.TryPeek(out var b, out _);
        return (hasInOrder, hasOutOfOrder) switch
        {
            (true, true) => a.At <= b.At ? (a, true) : (b, false),
            (true, false) => (a, true),
            (false, true) => (b, false),
            _ => null,
        };
    }

    private void Compact()
    {
        var count = _inOrder.Count;
        for (var i = 0; i < count; i++)
        {
            var record = _inOrder.Dequeue();
            if (!record.IsStale)
            {
                _inOrder.Enqueue(record); // order kept
            }
        }

        foreach (var (record, _) in _outOfOrder.UnorderedItems)
        {
            if (!record.IsStale)
            {
                _compacting.Add(record);
            }
        }

        _outOfOrder.Clear();
        foreach (var record in _compacting)
        {
            _outOfOrder.Enqueue(record, record.At);
        }

        _compacting.Clear();
    }

    private readonly record struct Record(InMemoryQueue.Entry Entry, int Version, DateTimeOffset At)
    {
        public bool IsStale => Entry.Version != Version;
    }
}

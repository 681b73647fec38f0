using System.Diagnostics.CodeAnalysis;

namespace Bus.Transports.InMemory;

/// <summary>
/// The visible messages of an <see cref="InMemoryQueue"/> in delivery order: a ring buffer that adds at either end and
/// takes from the front, without a node object per message. A message never delivered waits as itself, without an
/// entry: its entry is made when it is taken, so a backlog keeps fewer and smaller objects alive for the collector to
/// copy. An entry withdrawn while waiting (it became invisible) leaves its slot behind, recognised as stale by a stamp
/// and skipped when it reaches the front. Not thread-safe: the queue's lock guards it.
/// </summary>
internal sealed class ReadyQueue
{
    private const int InitialCapacity = 16;
    private Slot[] _slots = new Slot[InitialCapacity];
    private int _head;
    private int _size;
    private long _stamp;

    /// <summary>How many entries are ready (stale slots not counted).</summary>
    public int Count { get; private set; }

    /// <summary>Adds a message that was never delivered (no delay, no earlier attempts) at the end.</summary>
    public void AddFresh(TransportMessage message)
    {
        GrowIfFull();
        _slots[(_head + _size) % _slots.Length] = new Slot(message, 0);
        _size++;
        Count++;
    }

    public void AddLast(InMemoryQueue.Entry entry)
    {
        GrowIfFull();
        _slots[(_head + _size) % _slots.Length] = Mark(entry);
        _size++;
    }

    public void AddFirst(InMemoryQueue.Entry entry)
    {
        GrowIfFull();
        _head = (_head - 1 + _slots.Length) % _slots.Length;
        _slots[_head] = Mark(entry);
        _size++;
    }

    /// <summary>Takes the entry out of the ready ones, if it is one (its slot goes stale).</summary>
    public void Withdraw(InMemoryQueue.Entry entry)
    {
        if (entry.IsReady)
        {
            entry.IsReady = false;
            Count--;
        }
    }

    /// <summary>Takes the first ready message: an <see cref="InMemoryQueue.Entry"/>, or a
    /// <see cref="TransportMessage"/> that was never delivered. False when none is ready.</summary>
    public bool TryTakeFirst([NotNullWhen(true)] out object? item)
    {
        while (_size > 0)
        {
            var slot = _slots[_head];
            _slots[_head] = default;
            _head = (_head + 1) % _slots.Length;
            _size--;
            if (slot.Item is InMemoryQueue.Entry entry)
            {
                if (!entry.IsReady || entry.ReadyStamp != slot.Stamp)
                {
                    continue; // stale
                }

                entry.IsReady = false;
            }

            Count--;
            ShrinkIfDrained();
            item = slot.Item;
            return true;
        }

        ShrinkIfDrained();
        item = null;
        return false;
    }

    private Slot Mark(InMemoryQueue.Entry entry)
    {
        Withdraw(entry); // an entry is ready at most once: an older slot of it goes stale
        entry.IsReady = true;
        entry.ReadyStamp = ++_stamp;
        Count++;
        return new Slot(entry, entry.ReadyStamp);
    }

    private void GrowIfFull()
    {
        if (_size < _slots.Length)
        {
            return;
        }

        var grown = new Slot[_slots.Length * 2];
        for (var i = 0; i < _size; i++)
        {
            grown[i] = _slots[(_head + i) % _slots.Length];
        }

        _slots = grown;
        _head = 0;
    }

    /// <summary>After a backlog is drained, gives its large buffer back.</summary>
    private void ShrinkIfDrained()
    {
        if (_size == 0 && _slots.Length > 1024)
        {
            _slots = new Slot[InitialCapacity];
            _head = 0;
        }
    }

    /// <summary>An entry (with the stamp that says whether the slot is its live one) or a fresh message.</summary>
    private readonly record struct Slot(object Item, long Stamp);
}

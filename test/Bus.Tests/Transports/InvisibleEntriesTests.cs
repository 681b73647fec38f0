using Bus.Transports;
using Bus.Transports.InMemory;

namespace Bus.Tests.Transports;

public sealed class InvisibleEntriesTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 2, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Entries_become_visible_in_time_order_whether_added_in_order_or_not()
    {
        var invisible = new InvisibleEntries();
        var (a, b, c, d) = (Entry(), Entry(), Entry(), Entry());
        invisible.Add(a, Start.AddSeconds(10)); // in order
        invisible.Add(b, Start.AddSeconds(20));
        invisible.Add(c, Start.AddSeconds(5)); // earlier than the last: out of order
        invisible.Add(d, Start.AddSeconds(15));

        Assert.Equal(Start.AddSeconds(5), invisible.NextAt());
        Assert.False(invisible.TryTakeDue(Start.AddSeconds(4), out _));
        Assert.Equal([c, a, d], TakeDue(invisible, Start.AddSeconds(15)));
        Assert.Equal(Start.AddSeconds(20), invisible.NextAt());
        Assert.Equal([b], TakeDue(invisible, Start.AddMinutes(1)));
        Assert.Null(invisible.NextAt());
    }

    [Fact]
    public void A_moved_entry_leaves_a_stale_record_that_is_skipped()
    {
        var invisible = new InvisibleEntries();
        var (renewed, settled, waiting) = (Entry(), Entry(), Entry());
        invisible.Add(renewed, Start.AddSeconds(10));
        invisible.Add(settled, Start.AddSeconds(11));
        invisible.Add(waiting, Start.AddSeconds(12));
        invisible.Add(renewed, Start.AddSeconds(30)); // renewed: its first record goes stale
        invisible.Leave(settled); // settled: its record goes stale

        Assert.Equal(Start.AddSeconds(12), invisible.NextAt());
        Assert.Equal([waiting], TakeDue(invisible, Start.AddSeconds(29)));
        Assert.Equal([renewed], TakeDue(invisible, Start.AddSeconds(30)));
        Assert.False(renewed.IsInvisible);
    }

    [Fact]
    public void Stale_records_behind_a_live_one_are_dropped_once_they_outnumber_the_live_ones()
    {
        // A long job's lease at the front must not keep every message settled after it reachable.
        var invisible = new InvisibleEntries();
        invisible.Add(Entry(), Start.AddMinutes(10));
        var settled = new List<WeakReference>();
        AddAndSettle(invisible, settled, 500);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.True(settled.Count(r => r.IsAlive) <= 100, $"{settled.Count(r => r.IsAlive)} of 500 settled entries are still reachable");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void AddAndSettle(InvisibleEntries invisible, List<WeakReference> settled, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var entry = Entry();
            invisible.Add(entry, Start.AddMinutes(11));
            invisible.Leave(entry);
            settled.Add(new WeakReference(entry));
        }
    }

    private static List<InMemoryQueue.Entry> TakeDue(InvisibleEntries invisible, DateTimeOffset now)
    {
        var taken = new List<InMemoryQueue.Entry>();
        while (invisible.TryTakeDue(now, out var entry))
        {
            taken.Add(entry);
        }

        return taken;
    }

    private static InMemoryQueue.Entry Entry() => new(new InMemoryQueue("invisible", TimeProvider.System), new TransportMessage(null, new byte[] { 1 }));
}

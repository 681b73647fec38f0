using Bus.Transports;
using Bus.Transports.InMemory;

namespace Bus.Tests.Transports;

public sealed class ReadyQueueTests
{
    [Fact]
    public void Entries_come_out_in_order_with_returns_first_across_growth_and_wrap_around()
    {
        var queue = new ReadyQueue();
        var entries = Enumerable.Range(0, 100).Select(Entry).ToList();
        foreach (var entry in entries.Take(10))
        {
            queue.AddLast(entry);
        }

        Assert.Equal(entries.Take(5), Take(queue, 5));
        foreach (var entry in entries.Skip(10))
        {
            queue.AddLast(entry); // wraps around the first buffer, then grows it
        }

        queue.AddFirst(entries[3]); // given back: next in line
        Assert.Equal(96, queue.Count);
        Assert.Equal([entries[3], .. entries.Skip(5)], Take(queue, 96));
        Assert.Equal(0, queue.Count);
        Assert.False(queue.TryTakeFirst(out _));
    }

    [Fact]
    public void A_withdrawn_entry_is_skipped_and_one_added_again_comes_out_once_at_its_new_place()
    {
        var queue = new ReadyQueue();
        var (a, b, c) = (Entry(1), Entry(2), Entry(3));
        queue.AddLast(a);
        queue.AddLast(b);
        queue.AddLast(c);

        queue.Withdraw(b);
        queue.Withdraw(b); // twice is once
        Assert.Equal(2, queue.Count);
        queue.AddLast(a); // already ready: moves to the end, its first slot goes stale

        Assert.Equal([c, a], Take(queue, 2));
        Assert.Equal(0, queue.Count);
        Assert.False(queue.TryTakeFirst(out _));
    }

    [Fact]
    public void A_fresh_message_waits_as_itself_in_line_with_entries()
    {
        var queue = new ReadyQueue();
        var fresh = new TransportMessage(null, new byte[] { 9 });
        var (a, b) = (Entry(1), Entry(2));
        queue.AddLast(a);
        queue.AddFresh(fresh);
        queue.AddLast(b);
        queue.Withdraw(a);
        Assert.Equal(2, queue.Count);

        Assert.True(queue.TryTakeFirst(out var first));
        Assert.Same(fresh, first);
        Assert.True(queue.TryTakeFirst(out var second));
        Assert.Same(b, second);
        Assert.Equal(0, queue.Count);
        Assert.False(queue.TryTakeFirst(out _));
    }

    private static List<InMemoryQueue.Entry> Take(ReadyQueue queue, int count)
    {
        var taken = new List<InMemoryQueue.Entry>();
        for (var i = 0; i < count; i++)
        {
            Assert.True(queue.TryTakeFirst(out var item));
            taken.Add(Assert.IsType<InMemoryQueue.Entry>(item));
        }

        return taken;
    }

    private static InMemoryQueue.Entry Entry(int n) => new(new InMemoryQueue("ready", TimeProvider.System), new TransportMessage(null, new[] { (byte)n }));
}

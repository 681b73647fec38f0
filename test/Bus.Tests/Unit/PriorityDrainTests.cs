using Bus.Transports;

namespace Bus.Tests.Unit;

public sealed class PriorityDrainTests
{
    private readonly Queue<string> _priority = new();
    private readonly Queue<string> _normal = new();
    private readonly List<(string Queue, int Max, bool Wait)> _calls = [];

    [Fact]
    public async Task Both_queues_full_give_ratio_priority_messages_then_one_normal_receive_in_turn()
    {
        Fill(_priority, "p", 9);
        Fill(_normal, "n", 3);
        var drain = new PriorityDrain(4);

        var order = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            order.AddRange(await drain.ReceiveAsync(1, Priority, Normal, default));
        }

        Assert.Equal(["p0", "p1", "p2", "p3", "n0", "p4", "p5", "p6", "p7", "n1", "p8", "n2"], order);
    }

    [Fact]
    public async Task A_batch_from_the_priority_queue_is_capped_at_the_rest_of_the_ratio_and_the_normal_turn_does_not_wait()
    {
        Fill(_priority, "p", 10);
        Fill(_normal, "n", 10);
        var drain = new PriorityDrain(3);

        var first = await drain.ReceiveAsync(10, Priority, Normal, default);
        var second = await drain.ReceiveAsync(10, Priority, Normal, default);

        Assert.Equal(["p0", "p1", "p2"], first);
        Assert.Equal(10, second.Count);
        Assert.All(second, m => Assert.StartsWith("n", m));
        Assert.Equal([("priority", 3, false), ("normal", 10, false)], _calls);
    }

    [Fact]
    public async Task An_empty_priority_queue_leads_to_a_waiting_receive_from_the_normal_queue_and_an_empty_normal_turn_lets_priority_go_on()
    {
        Fill(_normal, "n", 1);
        var drain = new PriorityDrain(1);

        Assert.Equal(["n0"], await drain.ReceiveAsync(5, Priority, Normal, default));
        Assert.Equal([("priority", 1, false), ("normal", 5, true)], _calls);

        Fill(_priority, "p", 2);
        Assert.Equal(["p0"], await drain.ReceiveAsync(5, Priority, Normal, default));
        Assert.Equal(["p1"], await drain.ReceiveAsync(5, Priority, Normal, default)); // the normal queue's turn found it empty
    }

    [Theory]
    [InlineData(0)]
    [InlineData(101)]
    public void A_ratio_out_of_range_is_refused_naming_the_setting(int ratio)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => PriorityDrain.Validate(ratio, "PriorityRatio"));

        Assert.Contains("PriorityRatio must be 1 to 100", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PriorityDrain(ratio));
    }

    private static void Fill(Queue<string> queue, string prefix, int count)
    {
        for (var i = 0; i < count; i++)
        {
            queue.Enqueue(prefix + i);
        }
    }

    private ValueTask<IReadOnlyList<string>> Priority(int max, CancellationToken cancellationToken)
    {
        _calls.Add(("priority", max, false));
        return new(Take(_priority, max));
    }

    private ValueTask<IReadOnlyList<string>> Normal(int max, bool wait, CancellationToken cancellationToken)
    {
        _calls.Add(("normal", max, wait));
        return new(Take(_normal, max));
    }

    private static IReadOnlyList<string> Take(Queue<string> queue, int max)
    {
        var taken = new List<string>();
        while (taken.Count < max && queue.TryDequeue(out var item))
        {
            taken.Add(item);
        }

        return taken;
    }
}

using System.Globalization;
using System.Text;
using Bus.Transports;
using Xunit;

namespace Bus.Conformance;

/// <summary>Priority (<see cref="MessageHeaders.Priority"/>): native ordering, or a priority queue drained first in a
/// ratio that never starves the normal queue.</summary>
public abstract partial class TransportContractTests
{
    /// <summary>The transport's ratio of priority-queue receives to normal-queue receives, for transports with
    /// <see cref="PriorityOrdering.PriorityQueue"/> (their default: 4).</summary>
    protected virtual int PriorityRatio => 4;

    [SkippableFact]
    public async Task A_higher_priority_sent_last_is_received_first_and_equal_priorities_keep_their_order()
    {
        SkipUnlessPriorities();
        var queue = await NewQueueAsync("prio");
        await Transport.SendAsync([Prioritised(queue, "low-1", 0), Prioritised(queue, "low-2", 0)], default);
        await Transport.SendAsync([Prioritised(queue, "high", 5)], default);

        var bodies = await ReceiveAllAsync(queue, 3);

        Assert.Equal("high", bodies[0]);
        Assert.Equal(["low-1", "low-2"], Transport.Capabilities.PriorityOrdering == PriorityOrdering.Native ? bodies[1..] : bodies[1..].Order());
    }

    [SkippableFact]
    public async Task Native_priorities_order_every_level_and_a_batch_receive_returns_them_in_order()
    {
        Skip.IfNot(Transport.Capabilities.PriorityOrdering == PriorityOrdering.Native, "the transport does not order every priority level");
        var queue = await NewQueueAsync("levels");
        await Transport.SendAsync(
            [Prioritised(queue, "p1", 1), Prioritised(queue, "p0", 0), Prioritised(queue, "p9", 9), Prioritised(queue, "p5", 5)], default);

        var batch = await AwaitLettingTimePassAsync(Transport.ReceiveAsync(queue, 10, ShortLease * 5, default).AsTask(), Time.GetUtcNow() + Patience);

        Assert.NotNull(batch);
        Assert.Equal(["p9", "p5", "p1", "p0"], batch.Select(m => Encoding.UTF8.GetString(m.Message.Body.Span)));
        foreach (var received in batch)
        {
            await received.CompleteAsync(default);
        }
    }

    [SkippableFact]
    public async Task A_delayed_high_priority_message_does_not_overtake_due_ones_before_it_is_due()
    {
        SkipUnlessPriorities();
        var queue = await NewQueueAsync("prio-delay");
        var delay = ShortLease * 2;
        await Transport.SendAsync([Prioritised(queue, "high-later", 9, Time.GetUtcNow() + delay)], default);
        await Transport.SendAsync([Prioritised(queue, "low-now", 0)], default);

        var first = await ReceiveWithinAsync(queue, ShortLease * 5, Patience);
        Assert.NotNull(first);
        Assert.Equal("low-now", Encoding.UTF8.GetString(first.Message.Body.Span));
        await first.CompleteAsync(default);

        var later = await ReceiveWithinAsync(queue, ShortLease * 5, Patience + delay);
        Assert.NotNull(later);
        Assert.Equal("high-later", Encoding.UTF8.GetString(later.Message.Body.Span));
        await later.CompleteAsync(default);
    }

    [SkippableFact]
    public async Task A_redriven_dead_letter_keeps_its_priority()
    {
        SkipUnlessPriorities();
        var queue = await NewQueueAsync("prio-redrive");
        await Transport.SendAsync([Prioritised(queue, "high", 7)], default);
        var failed = await ReceiveWithinAsync(queue, ShortLease * 5, Patience);
        Assert.NotNull(failed);
        await failed.DeadLetterAsync(FailureDetails.From("failed", null, 1, queue, Time.GetUtcNow()), default);
        await Transport.SendAsync([Prioritised(queue, "low", 0)], default);

        Assert.Equal(1, await Transport.DeadLetters.RedriveAsync(queue, null, default));
        var bodies = await ReceiveAllAsync(queue, 2);

        Assert.Equal(["high", "low"], bodies);
    }

    [SkippableFact]
    public async Task A_published_event_keeps_its_priority_in_every_subscribed_queue()
    {
        SkipUnlessPriorities();
        var topic = NewName("prio-evt");
        var queue = NewName("prio-sub");
        await Transport.ProvisionAsync(new TransportTopology(queue, [topic], [topic]), default);
        await Transport.SendAsync([Prioritised(queue, "low", 0)], default);
        await Transport.SendAsync([new OutgoingMessage(Destination.Topic(topic), PriorityMessage("high-event", 3))], default);

        var bodies = await ReceiveAllAsync(queue, 2);

        Assert.Equal(["high-event", "low"], bodies);
    }

    [SkippableFact]
    public async Task The_priority_queue_does_not_starve_the_normal_queue()
    {
        Skip.IfNot(Transport.Capabilities.PriorityOrdering == PriorityOrdering.PriorityQueue, "the transport orders natively");
        var queue = await NewQueueAsync("prio-ratio");
        var ratio = PriorityRatio;
        await Transport.SendAsync(Enumerable.Range(0, 3).Select(i => Prioritised(queue, "normal-" + i, 0)).ToList(), default);
        await Transport.SendAsync(Enumerable.Range(0, ratio * 3).Select(i => Prioritised(queue, "urgent-" + i, 4)).ToList(), default);

        var bodies = await ReceiveAllAsync(queue, (ratio * 3) + 3);

        // Priority first, then at most `ratio` priority messages in a row while normal ones wait.
        Assert.StartsWith("urgent-", bodies[0]);
        var inARow = 0;
        var normalsLeft = 3;
        foreach (var body in bodies)
        {
            if (body.StartsWith("urgent-", StringComparison.Ordinal))
            {
                inARow++;
                Assert.True(normalsLeft == 0 || inARow <= ratio, $"{inARow} priority messages in a row while normal ones waited: {string.Join(", ", bodies)}");
            }
            else
            {
                inARow = 0;
                normalsLeft--;
            }
        }

        Assert.Equal(0, normalsLeft);
    }

    private void SkipUnlessPriorities() =>
        Skip.If(Transport.Capabilities.PriorityOrdering == PriorityOrdering.None, "the transport does not order by priority");

    private static TransportMessage PriorityMessage(string body, int priority) =>
        priority == 0 ? Message(body) : Message(body, (MessageHeaders.Priority, priority.ToString(CultureInfo.InvariantCulture)));

    private static OutgoingMessage Prioritised(string queue, string body, int priority, DateTimeOffset? visibleAt = null) =>
        new(Destination.Queue(queue), PriorityMessage(body, priority), visibleAt);

    /// <summary>Receives <paramref name="count"/> messages one at a time, completing each; their bodies in order.</summary>
    private async Task<string[]> ReceiveAllAsync(string queue, int count)
    {
        var bodies = new List<string>();
        while (bodies.Count < count)
        {
            var received = await ReceiveWithinAsync(queue, ShortLease * 5, Patience);
            Assert.True(received is not null, $"only {bodies.Count} of {count} messages arrived: {string.Join(", ", bodies)}");
            bodies.Add(Encoding.UTF8.GetString(received.Message.Body.Span));
            await received.CompleteAsync(default);
        }

        return [.. bodies];
    }
}

using Bus.Transports;
using Xunit;

namespace Bus.Conformance;

/// <summary>What operators rely on: queue statistics and dead letters listed with filters and pages.</summary>
public abstract partial class TransportContractTests
{
    [Fact]
    public async Task Statistics_count_ready_in_flight_delayed_and_dead_lettered()
    {
        var statistics = Assert.IsAssignableFrom<IQueueStatistics>(Transport.Statistics);
        var queue = await NewQueueAsync("stats");
        var ready = Enumerable.Range(0, 4).Select(i => new OutgoingMessage(Destination.Queue(queue), Message($"r{i}"))).ToList();
        await Transport.SendAsync([.. ready, new OutgoingMessage(Destination.Queue(queue), Message("later"), Time.GetUtcNow() + TimeSpan.FromMinutes(10))], default);
        var dead = await ReceiveWithinAsync(queue, ShortLease * 10, Patience);
        Assert.NotNull(dead);
        await dead.DeadLetterAsync(FailureDetails.From("failed", null, 1, queue, Time.GetUtcNow()), default);
        var held = await ReceiveWithinAsync(queue, ShortLease * 10, Patience);
        Assert.NotNull(held);

        var counts = await statistics.GetAsync(queue, default);

        Assert.Equal(queue, counts.Queue);
        Assert.Equal(1, counts.DeadLettered);
        Assert.Equal(1, counts.Delayed);
        if (counts.InFlight is { } inFlight)
        {
            Assert.Equal(2, counts.Ready);
            Assert.Equal(1, inFlight);
        }
        else
        {
            Assert.Equal(3, counts.Ready); // the transport counts held messages as ready (Service Bus)
        }

        Assert.True(counts.OldestMessageAge is null || counts.OldestMessageAge >= TimeSpan.Zero, $"age {counts.OldestMessageAge}");
        await held.CompleteAsync(default);
    }

    [Fact]
    public async Task Statistics_list_provisioned_queues_and_report_zeros_for_an_empty_one()
    {
        var statistics = Assert.IsAssignableFrom<IQueueStatistics>(Transport.Statistics);
        var queue = await NewQueueAsync("listed");

        Assert.Contains(queue, await statistics.ListQueuesAsync(default));
        var counts = await statistics.GetAsync(queue, default);
        Assert.Equal(0, counts.Ready);
        Assert.True(counts.InFlight is null or 0);
        Assert.Equal(0, counts.Delayed);
        Assert.Equal(0, counts.DeadLettered);
        Assert.Null(counts.OldestMessageAge);
    }

    [Fact]
    public async Task Dead_letters_are_listed_by_type_reason_time_and_ids_in_pages()
    {
        var queue = await NewQueueAsync("dlqfilter");
        var start = DateTimeOffset.FromUnixTimeSeconds(Time.GetUtcNow().ToUnixTimeSeconds()) - TimeSpan.FromHours(1);
        var sent = Enumerable.Range(0, 5)
            .Select(i => Message($"m{i}", ("i", i.ToString(System.Globalization.CultureInfo.InvariantCulture)), (MessageHeaders.MessageType, i % 2 == 0 ? "test.alpha" : "test.beta")))
            .ToList();
        await Transport.SendAsync(sent.Select(m => new OutgoingMessage(Destination.Queue(queue), m)).ToList(), default);
        for (var n = 0; n < sent.Count; n++)
        {
            var received = await ReceiveWithinAsync(queue, ShortLease * 10, Patience);
            Assert.NotNull(received);
            var i = int.Parse(received.Message.Headers["i"], System.Globalization.CultureInfo.InvariantCulture);
            var reason = i < 3 ? $"Attempts exhausted ({i})" : "Card declined by the bank";
            await received.DeadLetterAsync(FailureDetails.From(reason, null, 1, queue, start + TimeSpan.FromMinutes(i)), default);
        }

        string Id(int i) => sent[i].MessageId!;

        var pages = new List<DeadLetterPage>();
        string? token = null;
        do
        {
            var page = await Transport.DeadLetters.ListAsync(queue, new DeadLetterQuery { PageSize = 2, ContinuationToken = token }, default);
            pages.Add(page);
            token = page.ContinuationToken;
        }
        while (token is not null && pages.Count < 10);

        Assert.All(pages, p => Assert.InRange(p.Items.Count, 0, 2));
        Assert.True(pages.Count >= 3, $"{pages.Count} pages of 2 for 5 dead letters");
        Assert.Equal(Enumerable.Range(0, 5).Select(Id).Order(), pages.SelectMany(p => p.Items).Select(d => d.Message.MessageId!).Order());

        Assert.Equal([Id(0), Id(2), Id(4)], await IdsAsync(new DeadLetterQuery { MessageTypes = ["test.alpha"] }));
        Assert.Equal([Id(3), Id(4)], await IdsAsync(new DeadLetterQuery { ReasonContains = "card DECLINED" }));
        Assert.Equal([Id(1), Id(2)], await IdsAsync(new DeadLetterQuery { FailedFrom = start + TimeSpan.FromMinutes(1), FailedBefore = start + TimeSpan.FromMinutes(3) }));
        Assert.Equal([Id(0), Id(4)], await IdsAsync(new DeadLetterQuery { MessageIds = [Id(0), Id(4)] }));
        Assert.Equal([Id(0), Id(2)], await IdsAsync(new DeadLetterQuery { MessageTypes = ["test.alpha"], ReasonContains = "exhausted" }));
        Assert.Empty(await IdsAsync(new DeadLetterQuery { MessageTypes = ["test.gamma"] }));

        var filtered = await Transport.DeadLetters.ListAsync(queue, new DeadLetterQuery { MessageTypes = ["test.beta"], PageSize = 1 }, default);
        Assert.Single(filtered.Items);
        Assert.NotNull(filtered.ContinuationToken);
        var letter = filtered.Items[0];
        Assert.Equal("test.beta", letter.Message.Headers[MessageHeaders.MessageType]);
        Assert.DoesNotContain(letter.Message.Headers.Keys, MessageHeaders.IsFailureHeader);

        await Assert.ThrowsAsync<ArgumentException>(() => Transport.DeadLetters.ListAsync(queue, new DeadLetterQuery { PageSize = 0 }, default));
        await Assert.ThrowsAsync<ArgumentException>(() => Transport.DeadLetters.ListAsync(queue, new DeadLetterQuery { ContinuationToken = "not-a-token" }, default));

        async Task<string[]> IdsAsync(DeadLetterQuery query)
        {
            var ids = new List<(int Index, string Id)>();
            string? next = null;
            do
            {
                var page = await Transport.DeadLetters.ListAsync(queue, query with { ContinuationToken = next }, default);
                ids.AddRange(page.Items.Select(d => (int.Parse(d.Message.Headers["i"], System.Globalization.CultureInfo.InvariantCulture), d.Message.MessageId!)));
                next = page.ContinuationToken;
            }
            while (next is not null);

            return [.. ids.OrderBy(x => x.Index).Select(x => x.Id)];
        }
    }
}

using System.Text;
using Bus.Testing;
using Bus.Transports;

namespace Bus.Sqlite.Tests;

/// <summary>Queue statistics counted in the tables, on a manual clock.</summary>
public sealed class SqliteQueueStatisticsTests
{
    [Fact]
    public async Task Counts_tell_in_flight_from_delayed_and_age_the_oldest_waiting_message()
    {
        using var database = new TempDatabase();
        var time = new ManualTimeProvider(new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero));
        await using var transport = new SqliteTransport(new SqliteTransportOptions { DatabasePath = database.Path, TimeProvider = time });
        await transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), Message("a"))], default);
        time.Advance(TimeSpan.FromMinutes(5));
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), Message("later"), time.GetUtcNow() + TimeSpan.FromHours(1))], default);
        var held = Assert.Single(await transport.ReceiveAsync("q", 10, TimeSpan.FromMinutes(1), default));

        Assert.Equal(new QueueStatistics("q", 0, 1, 1, 0, TimeSpan.FromMinutes(5), time.GetUtcNow()), await transport.Statistics.GetAsync("q", default));

        time.Advance(TimeSpan.FromMinutes(2)); // the lease ran out: ready again, older by two minutes
        var counts = await transport.Statistics.GetAsync("q", default);
        Assert.Equal((1L, 0L, 1L, TimeSpan.FromMinutes(7)), (counts.Ready, counts.InFlight!.Value, counts.Delayed!.Value, counts.OldestMessageAge!.Value));

        var again = Assert.Single(await transport.ReceiveAsync("q", 10, TimeSpan.FromMinutes(1), default));
        await again.DeadLetterAsync(FailureDetails.From("failed", null, 1, "q", time.GetUtcNow()), default);
        counts = await transport.Statistics.GetAsync("q", default);
        Assert.Equal((0L, 0L, 1L, 1L, (TimeSpan?)null), (counts.Ready, counts.InFlight!.Value, counts.Delayed!.Value, counts.DeadLettered, counts.OldestMessageAge));
        Assert.Equal(["q"], await transport.Statistics.ListQueuesAsync(default));
        await Assert.ThrowsAsync<LeaseLostException>(() => held.CompleteAsync(default));
    }

    private static TransportMessage Message(string body) =>
        new(new Dictionary<string, string> { [MessageHeaders.MessageId] = Guid.NewGuid().ToString() }, Encoding.UTF8.GetBytes(body));
}

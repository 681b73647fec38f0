using System.Text;
using Bus.Testing;
using Bus.Transports;

namespace Bus.AmazonSqs.Tests;

/// <summary>Batching at steady state, counted at the HTTP layer against fauxqs. The batch windows run on a manual
/// clock: a batch goes out when it is full or when the test ends its window, never because a loaded machine took
/// longer than the window between two operations of one burst.</summary>
public sealed class RequestCountTests : IAsyncLifetime
{
    private readonly CountingHandler _counter = new();
    private readonly ManualTimeProvider _batchClock = new();
    private SqsTransport _transport = null!;

    public Task InitializeAsync()
    {
        _transport = new SqsTransport(
            Fauxqs.Options(o => o.HttpClientFactory = new HandlerClientFactory(_counter)), null, null, null, null, _batchClock);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        EndBatchWindows(); // the windows of the batches already sent full end too, so the flush at disposal has nothing to wait for
        await _transport.DisposeAsync();
        _counter.Dispose();
    }

    [Fact]
    public async Task Send_receive_and_complete_of_100_messages_takes_well_under_three_requests_per_message()
    {
        var queue = await NewQueueAsync("count");
        await WarmUpAsync(queue);
        _counter.Reset();

        await _transport.SendAsync(Enumerable.Range(0, 100).Select(i => new OutgoingMessage(Destination.Queue(queue), Message($"m{i}"))).ToList(), default);
        var received = new List<IReceivedMessage>();
        for (var polls = 0; received.Count < 100 && polls < 100; polls++)
        {
            received.AddRange(await _transport.ReceiveAsync(queue, 10, TimeSpan.FromSeconds(60), default));
        }

        await Task.WhenAll(received.Select(r => r.CompleteAsync(default)));
        await _counter.WhenEntriesAsync(100, "DeleteMessageBatch").WaitAsync(TimeSpan.FromSeconds(30)); // deletes go out batched, after the completions

        Assert.Equal(100, received.Select(r => r.Message.MessageId).Distinct().Count());
        Assert.Equal(10, _counter.Count("SendMessageBatch"));
        Assert.Equal(10, _counter.Count("DeleteMessageBatch"));
        Assert.True(_counter.Total / 100.0 < 0.5, $"{_counter.Total} requests for 100 messages");
    }

    [Fact]
    public async Task Renewing_50_leases_together_takes_five_batch_calls_and_a_renewal_the_round_covered_costs_none()
    {
        var queue = await NewQueueAsync("beat");
        await _transport.SendAsync(Enumerable.Range(0, 50).Select(i => new OutgoingMessage(Destination.Queue(queue), Message($"m{i}"))).ToList(), default);
        var received = new List<IReceivedMessage>();
        for (var polls = 0; received.Count < 50 && polls < 50; polls++)
        {
            received.AddRange(await _transport.ReceiveAsync(queue, 10, TimeSpan.FromSeconds(60), default));
        }

        Assert.Equal(50, received.Count);
        _counter.Reset();

        for (var round = 1; round <= 2; round++)
        {
            var expiries = await Task.WhenAll(received.Select(r => r.RenewLeaseAsync(TimeSpan.FromSeconds(120), default)));
            Assert.All(expiries, e => Assert.True(e > DateTimeOffset.UtcNow.AddSeconds(100)));
            Assert.Equal(5, _counter.Count("ChangeMessageVisibilityBatch")); // the second round finds every lease covered
            Assert.Equal(0, _counter.Count("ChangeMessageVisibility"));
        }

        Assert.Equal(5, _counter.Total);
        await Task.WhenAll(received.Select(r => r.CompleteAsync(default)));
    }

    private async Task<string> NewQueueAsync(string hint)
    {
        var queue = Fauxqs.UniqueName(hint);
        await _transport.ProvisionAsync(new TransportTopology(queue, [], []), default);
        return queue;
    }

    private async Task WarmUpAsync(string queue)
    {
        // Resolve and cache the queue's URL and attributes so that only steady-state requests are counted.
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue(queue), Message("warm-up"))], default);
        IReadOnlyList<IReceivedMessage> warm = [];
        for (var polls = 0; warm.Count == 0 && polls < 10; polls++)
        {
            warm = await _transport.ReceiveAsync(queue, 1, TimeSpan.FromSeconds(30), default);
        }

        await Assert.Single(warm).CompleteAsync(default);
        EndBatchWindows(); // a lone delete goes out when its window ends
        await _counter.WhenEntriesAsync(1, "DeleteMessageBatch").WaitAsync(TimeSpan.FromSeconds(30));
    }

    private void EndBatchWindows() => _batchClock.Advance(TimeSpan.FromSeconds(1));

    private static TransportMessage Message(string body) =>
        new(new Dictionary<string, string> { [MessageHeaders.MessageId] = Guid.NewGuid().ToString(), ["bus-message-type"] = "test.count" }, Encoding.UTF8.GetBytes(body));
}

using Bus.Leases;
using Bus.Pipeline;
using Bus.Recoverability;
using Bus.Transports;
using Bus.Transports.InMemory;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bus.Tests.Pipeline;

/// <summary>The retry decision alone: an exception and a delivery in, an outcome out.</summary>
public sealed class RetryDecisionTests : IAsyncLifetime
{
    private readonly InMemoryBroker _broker = new();
    private InMemoryTransport _transport = null!;
    private readonly RetryPolicy _policy = new() { MaxAttempts = 3, ImmediateRetries = 1, JitterFactor = 0 };

    public Task InitializeAsync()
    {
        _transport = new InMemoryTransport(_broker);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _transport.DisposeAsync();
    }

    [Theory]
    [InlineData(1, OutcomeKind.Retry, "00:00:00")] // an immediate retry
    [InlineData(2, OutcomeKind.Retry, "00:00:02")] // the first delayed retry
    [InlineData(3, OutcomeKind.DeadLetter, "00:00:00")] // attempts exhausted
    public async Task A_failure_is_retried_by_the_policy_until_attempts_run_out(int attempt, OutcomeKind kind, string delay)
    {
        var context = await DeliveryAsync(attempt);

        var outcome = new RetryDecision(NullLoggerFactory.Instance).Decide(context, new TimeoutException("slow"));

        Assert.Equal(kind, outcome.Kind);
        Assert.Equal(TimeSpan.Parse(delay, System.Globalization.CultureInfo.InvariantCulture), outcome.Delay);
        if (kind == OutcomeKind.DeadLetter)
        {
            Assert.Equal("Attempts exhausted (3 of 3): TimeoutException: slow", outcome.Reason);
        }
    }

    [Fact]
    public async Task Non_retryable_errors_FailAsync_and_checkpoints_are_decided_at_once()
    {
        var context = await DeliveryAsync(1);
        var decide = new RetryDecision(NullLoggerFactory.Instance);

        var nonRetryable = decide.Decide(context, new NonRetryableException("bad input"));
        Assert.Equal((OutcomeKind.DeadLetter, "Non-retryable NonRetryableException: bad input"), (nonRetryable.Kind, nonRetryable.Reason));
        Assert.Equal(OutcomeKind.DeadLetter, decide.Decide(context, new FailNowException("no")).Kind);
        var released = decide.Decide(context, new CheckpointReleaseException(TimeSpan.FromMinutes(7), "its window closed"));
        Assert.Equal((OutcomeKind.Release, TimeSpan.FromMinutes(7)), (released.Kind, released.Delay));
    }

    private async Task<IncomingContext> DeliveryAsync(int attempt)
    {
        var registry = new MessageTypeRegistry();
        var type = registry.Register(typeof(Deposit));
        var body = new TransportMessage(new Dictionary<string, string> { [MessageHeaders.MessageType] = type.WireName }, "{}"u8.ToArray());
        await _transport.SendAsync([new OutgoingMessage(Destination.Queue("q"), body)], default);
        IReceivedMessage received = null!;
        for (var i = 0; i < attempt; i++)
        {
            received = (await _transport.ReceiveAsync("q", 1, TimeSpan.FromMinutes(1), default)).Single();
            if (i < attempt - 1)
            {
                await received.AbandonAsync(TimeSpan.Zero, default);
            }
        }

        var leases = new EndpointLeases(_transport.Capabilities, TimeProvider.System, NullLogger.Instance, new("bus.endpoint", "q"));
        var renewer = new LeaseRenewer(leases);
        var delivery = renewer.Hold(received, ExecutionProfile.Default, DateTimeOffset.UtcNow);
        return new MessageContext(received, renewer, delivery, new ShutdownSignals(CancellationToken.None, CancellationToken.None), services: null!)
        {
            Handling = new TypeHandling(type, [], null, ExecutionProfile.Default, _policy),
        };
    }
}

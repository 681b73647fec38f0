using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Bus.Hosting;
using Bus.Pipeline;
using Bus.Testing;
using Bus.Transports;
using Bus.Transports.InMemory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bus.Tests.Pipeline;

[MessageName("tests.chore")]
public sealed record Chore(string Id, string Mode) : ICommand;

public sealed class ChoreHandler : IHandleMessages<Chore>
{
    public Task HandleAsync(Chore message, IMessageContext context) => message.Mode switch
    {
        "fail-once" when context.Attempt == 1 => throw new InvalidOperationException("the first attempt fails"),
        "fail-now" => context.FailAsync("nothing can be done"),
        _ => Task.CompletedTask,
    };
}

/// <summary>Remembers every report.</summary>
public sealed class RecordingObserver : IDeliveryObserver
{
    private readonly TaskCompletionSource _sixHeard = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ConcurrentQueue<DeliveryReport> Reports { get; } = new();

    /// <summary>Completes once six reports were heard.</summary>
    public Task SixHeard => _sixHeard.Task;

    public Task OnSettledAsync(DeliveryReport report, CancellationToken cancellationToken)
    {
        Reports.Enqueue(report);
        if (Reports.Count >= 6)
        {
            _sixHeard.TrySetResult();
        }

        return Task.CompletedTask;
    }
}

public sealed class ThrowingObserver : IDeliveryObserver
{
    public Task OnSettledAsync(DeliveryReport report, CancellationToken cancellationToken) => throw new InvalidOperationException("observer bug");
}

public sealed class DeliveryObserverTests
{
    [Fact]
    public async Task An_observer_hears_each_outcome_with_the_message_id_type_attempt_and_reason()
    {
        // A manual clock that never moves: no outcome here needs time to pass (the retry is immediate, the hop is
        // released at once), and no lease can run out, however slowly a loaded machine runs the test. So the message
        // whose lease is lost is not delivered again and the six reports are all there will be.
        var time = new ManualTimeProvider();
        var observer = new RecordingObserver();
        var broker = new InMemoryBroker(time);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddSingleton<IDeliveryObserver, ThrowingObserver>();
        services.AddSingleton<IDeliveryObserver>(observer);
        services.AddBus(bus =>
        {
            bus.EndpointName = "observed";
            bus.AddHandler<ChoreHandler>();
            bus.UseTransport(_ => new LeaseLosingTransport(new InMemoryTransport(broker)));
        });
        await using var provider = services.BuildServiceProvider(validateScopes: true);
        var hosted = provider.GetServices<IHostedService>().ToList();
        foreach (var service in hosted)
        {
            await service.StartAsync(CancellationToken.None);
        }

        var bus = provider.GetRequiredService<IBus>();
        await bus.SendAsync(new Chore("c", "ok"), new DeliveryOptions { MessageId = "completed" });
        await bus.SendAsync(new Chore("r", "fail-once"), new DeliveryOptions { MessageId = "retried" });
        await bus.SendAsync(new Chore("d", "fail-now"), new DeliveryOptions { MessageId = "dead" });
        await bus.SendAsync(new Chore("l", "ok"), new DeliveryOptions { MessageId = "lost", Headers = { ["lose-lease"] = "yes" } });
        var later = time.GetUtcNow().AddHours(1).ToString("O", CultureInfo.InvariantCulture);
        var hop = new TransportMessage(
            new Dictionary<string, string>
            {
                [MessageHeaders.MessageId] = "released",
                [MessageHeaders.MessageType] = "tests.chore",
                [MessageHeaders.DeliverAt] = later,
            },
            Encoding.UTF8.GetBytes("""{"id":"h","mode":"ok"}"""));
        await provider.GetRequiredService<ITransport>().SendAsync([new OutgoingMessage(Destination.Queue("observed"), hop)], CancellationToken.None);

        await observer.SixHeard.WaitAsync(TimeSpan.FromMinutes(1)); // real time: only a guard against a hang

        foreach (var service in hosted)
        {
            await service.StopAsync(CancellationToken.None);
        }

        var reports = observer.Reports.ToList();
        Assert.Equal(6, reports.Count);
        var completed = Assert.Single(reports, r => r.MessageId == "completed");
        Assert.Equal((OutcomeKind.Complete, "tests.chore", 1, "observed", (string?)null), (completed.Kind, completed.MessageType, completed.Attempt, completed.Queue, completed.Reason));

        // By attempt: with an immediate retry, another worker can complete attempt 2 and report it before the worker that
        // retried attempt 1 has told the observers (each worker reports after its own settlement).
        var retried = reports.Where(r => r.MessageId == "retried").OrderBy(r => r.Attempt).ToList();
        Assert.Equal([(OutcomeKind.Retry, 1), (OutcomeKind.Complete, 2)], retried.Select(r => (r.Kind, r.Attempt)));
        Assert.Contains("the first attempt fails", retried[0].Reason);

        var dead = Assert.Single(reports, r => r.MessageId == "dead");
        Assert.Equal((OutcomeKind.DeadLetter, "nothing can be done"), (dead.Kind, dead.Reason));

        var lost = Assert.Single(reports, r => r.MessageId == "lost");
        Assert.Equal(OutcomeKind.LeaseLost, lost.Kind);

        var released = Assert.Single(reports, r => r.MessageId == "released");
        Assert.Equal(OutcomeKind.Release, released.Kind);
        Assert.Equal(TimeSpan.FromHours(1), released.Delay);
        Assert.Contains("delay hop", released.Reason);
    }

    /// <summary>The in-memory transport, except that completing a message with a <c>lose-lease</c> header finds its
    /// lease lost (as when another consumer took it over).</summary>
    private sealed class LeaseLosingTransport(ITransport inner) : ITransport
    {
        public TransportCapabilities Capabilities => inner.Capabilities;

        public IDeadLetterQueue DeadLetters => inner.DeadLetters;

        public Task ProvisionAsync(TransportTopology topology, CancellationToken cancellationToken) => inner.ProvisionAsync(topology, cancellationToken);

        public Task SendAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken) => inner.SendAsync(messages, cancellationToken);

        public async ValueTask<IReadOnlyList<IReceivedMessage>> ReceiveAsync(string queue, int maxMessages, TimeSpan leaseDuration, CancellationToken cancellationToken)
        {
            var received = await inner.ReceiveAsync(queue, maxMessages, leaseDuration, cancellationToken);
            return received.Select(m => (IReceivedMessage)new Received(m)).ToList();
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();

        private sealed class Received(IReceivedMessage inner) : IReceivedMessage
        {
            public TransportMessage Message => inner.Message;

            public string Queue => inner.Queue;

            public int ReceiveCount => inner.ReceiveCount;

            public DateTimeOffset LeaseExpiresAt => inner.LeaseExpiresAt;

            public Task<DateTimeOffset> RenewLeaseAsync(TimeSpan duration, CancellationToken cancellationToken) => inner.RenewLeaseAsync(duration, cancellationToken);

            public ValueTask BeginAttemptAsync(CancellationToken cancellationToken) => inner.BeginAttemptAsync(cancellationToken);

            public Task CompleteAsync(CancellationToken cancellationToken) => inner.Message.Headers.ContainsKey("lose-lease")
                ? throw new LeaseLostException("taken over by another consumer")
                : inner.CompleteAsync(cancellationToken);

            public Task AbandonAsync(TimeSpan delay, CancellationToken cancellationToken) => inner.AbandonAsync(delay, cancellationToken);

            public Task ReleaseAsync(TimeSpan delay, CancellationToken cancellationToken) => inner.ReleaseAsync(delay, cancellationToken);

            public Task DeadLetterAsync(FailureDetails failure, CancellationToken cancellationToken) => inner.DeadLetterAsync(failure, cancellationToken);
        }
    }
}

using System.Collections.Concurrent;
using Bus.Pipeline;

namespace Bus.Cli.Tests;

/// <summary>The message the tests dead-letter and redrive.</summary>
[MessageName("cli-test.charge")]
public sealed record Charge(string Id, string Kind) : ICommand;

/// <summary>Another type, to filter by.</summary>
[MessageName("cli-test.refund")]
public sealed record Refund(string Id) : ICommand;

/// <summary>Whether charges fail now, and which were handled.</summary>
public sealed class ChargeDesk
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _handled = new();

    public volatile bool Failing = true;

    public Task Handled(string id) => _handled.GetOrAdd(id, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public void MarkHandled(string id) => _handled.GetOrAdd(id, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}

/// <summary>Fails while the desk fails: a card charge is refused (FailAsync), anything else throws.</summary>
public sealed class ChargeHandler(ChargeDesk desk) : IHandleMessages<Charge>, IHandleMessages<Refund>
{
    public async Task HandleAsync(Charge message, IMessageContext context)
    {
        if (desk.Failing)
        {
            if (message.Kind == "card")
            {
                await context.FailAsync($"Card declined for {message.Id}");
            }

            throw new TimeoutException($"Gateway timeout for {message.Id}");
        }

        desk.MarkHandled(message.Id);
    }

    public Task HandleAsync(Refund message, IMessageContext context) =>
        desk.Failing ? throw new InvalidOperationException($"Refund refused for {message.Id}") : Task.CompletedTask;
}

/// <summary>Signals each dead-lettering.</summary>
public sealed class DeadLetterSignal : IDeliveryObserver
{
    private int _count;
    private readonly ConcurrentQueue<(int Count, TaskCompletionSource Done)> _waiters = new();

    public int Count => Volatile.Read(ref _count);

    public Task OnSettledAsync(DeliveryReport report, CancellationToken cancellationToken)
    {
        if (report.Kind == OutcomeKind.DeadLetter)
        {
            var count = Interlocked.Increment(ref _count);
            foreach (var (wanted, done) in _waiters)
            {
                if (count >= wanted)
                {
                    done.TrySetResult();
                }
            }
        }

        return Task.CompletedTask;
    }

    public Task WhenAsync(int count)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiters.Enqueue((count, done));
        if (Count >= count)
        {
            done.TrySetResult();
        }

        return done.Task;
    }
}

namespace Bus.Benchmarks;

/// <summary>One started bus with a no-op handler for <see cref="PingCommand"/> and <see cref="PingEvent"/> on its own
/// in-memory queue. Each benchmark run gets a fresh one.</summary>
public interface IBenchmarkBus : IAsyncDisposable
{
    /// <summary>What the handler reports to.</summary>
    HandledSignal Signal { get; }

    /// <summary>Sends a command to the handler's queue.</summary>
    Task SendAsync(PingCommand command);

    /// <summary>Publishes an event the handler's queue is subscribed to.</summary>
    Task PublishAsync(PingEvent @event);
}

/// <summary>Starts fresh buses of one kind.</summary>
/// <param name="Name">The name printed in the table.</param>
/// <param name="StartAsync">Starts a bus; the argument is the handler concurrency, or null for the bus's default.</param>
public sealed record BusFactory(string Name, Func<int?, Task<IBenchmarkBus>> StartAsync);

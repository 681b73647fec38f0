using System.Collections.Concurrent;

namespace Bus.Transports.InMemory;

/// <summary>
/// The shared state behind <see cref="InMemoryTransport"/>s in one process: queues with leases, delayed messages,
/// a dead-letter queue per queue, topics and subscriptions. Several buses (endpoints) share one broker to talk to
/// each other. Time comes from the given <see cref="TimeProvider"/>, so leases and delays can be tested without sleeping.
/// </summary>
public sealed class InMemoryBroker
{
    private readonly ConcurrentDictionary<string, InMemoryQueue> _queues = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string[]> _subscriptions = new(StringComparer.Ordinal);
    private readonly object _subscriptionGate = new();

    /// <summary>Creates a broker.</summary>
    /// <param name="timeProvider">The clock for leases and delays; <see cref="TimeProvider.System"/> when null.</param>
    public InMemoryBroker(TimeProvider? timeProvider = null)
    {
        Time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The broker's clock.</summary>
    public TimeProvider Time { get; }

    internal InMemoryQueue Queue(string name) => _queues.GetOrAdd(name, static (n, time) => new InMemoryQueue(n, time), Time);

    internal IReadOnlyList<string> QueueNames() => [.. _queues.Keys.Order(StringComparer.Ordinal)];

    internal bool TryGetQueue(string name, out InMemoryQueue queue) => _queues.TryGetValue(name, out queue!);

    internal void Subscribe(string topic, string queue)
    {
        lock (_subscriptionGate)
        {
            var current = _subscriptions.TryGetValue(topic, out var existing) ? existing : [];
            if (!current.Contains(queue, StringComparer.Ordinal))
            {
                _subscriptions[topic] = [.. current, queue];
            }
        }
    }

    internal string[] SubscribersOf(string topic) => _subscriptions.TryGetValue(topic, out var queues) ? queues : [];

    /// <summary>Messages waiting or in flight in <paramref name="queue"/> (not dead letters).</summary>
    public int CountMessages(string queue) => TryGetQueue(queue, out var q) ? q.Count : 0;

    /// <summary>Dead letters held for <paramref name="queue"/>.</summary>
    public int CountDeadLetters(string queue) => TryGetQueue(queue, out var q) ? q.DeadLetterCount : 0;
}

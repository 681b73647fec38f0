using System.Diagnostics.CodeAnalysis;

namespace Bus.Transports.InMemory;

/// <summary>
/// A transport that keeps messages in process memory with real queue semantics: leases that expire and redeliver,
/// receive counts, delayed messages, a dead-letter queue per queue, pub/sub fan-out and lease renewal.
/// Everything is lost when the process ends: use it for development and tests.
/// </summary>
/// <remarks>
/// It is also the reference implementation of the seam, meant to be read: <see cref="SendAsync(IReadOnlyList{OutgoingMessage}, CancellationToken)"/> puts messages in
/// queues (a topic copies them to every subscribed queue), <see cref="ReceiveAsync"/> takes them under a lease, and each
/// <see cref="IReceivedMessage"/> it returns settles that one delivery. The queue itself is <c>InMemoryQueue</c>.
/// </remarks>
public sealed class InMemoryTransport : ITransport, IDeadLetterQueue, IQueueStatistics
{
    private readonly InMemoryBroker _broker;
    private readonly InMemoryTransportOptions _options;

    /// <summary>Creates a transport over <paramref name="broker"/>.</summary>
    public InMemoryTransport(InMemoryBroker broker, InMemoryTransportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(broker);
        _broker = broker;
        _options = options ?? new InMemoryTransportOptions();
        _options.Validate();
        Capabilities = new TransportCapabilities
        {
            Name = "in-memory",
            CanRenewLease = true,
            CountsAttemptsAtStart = true,
            MaxLeaseDuration = TimeSpan.FromHours(12),
            MaxDelay = TimeSpan.FromDays(365),
            PublishSubscribe = true,
            Redrive = true,
            NativeDeadLetter = false,
            PriorityOrdering = PriorityOrdering.Native,
            MaxMessageSize = _options.MaxMessageSize,
        };
    }

    /// <inheritdoc />
    public TransportCapabilities Capabilities { get; }

    /// <inheritdoc />
    public IDeadLetterQueue DeadLetters => this;

    /// <inheritdoc />
    public IQueueStatistics Statistics => this;

    /// <summary>The broker this transport uses.</summary>
    public InMemoryBroker Broker => _broker;

    /// <inheritdoc />
    public Task ProvisionAsync(TransportTopology topology, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(topology);
        _broker.Queue(topology.InputQueue);
        foreach (var topic in topology.Subscriptions)
        {
            _broker.Subscribe(topic, topology.InputQueue);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task SendAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        for (var i = 0; i < messages.Count; i++)
        {
            if (!SurelyFits(messages[i].Message))
            {
                MessageSizeLimit.Check(messages[i].Message, _options.MaxMessageSize, Capabilities.Name);
            }
        }

        for (var i = 0; i < messages.Count; i++)
        {
            Enqueue(messages[i].Destination, messages[i].Message, messages[i].VisibleAt);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task SendAsync(Destination destination, TransportMessage message, DateTimeOffset? visibleAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!SurelyFits(message))
        {
            MessageSizeLimit.Check(message, _options.MaxMessageSize, Capabilities.Name);
        }

        Enqueue(destination, message, visibleAt);
        return Task.CompletedTask;
    }

    /// <summary>Puts a message in its queue, or a copy in every queue subscribed to its topic.</summary>
    private void Enqueue(Destination destination, TransportMessage message, DateTimeOffset? visibleAt)
    {
        // Every received message carries a message id: a foreign payload gets one here, as a broker would assign it.
        if (!message.Headers.ContainsKey(MessageHeaders.MessageId))
        {
            message = message.WithHeaders([new(MessageHeaders.MessageId, Guid.NewGuid().ToString())]);
        }

        if (destination.Kind == DestinationKind.Queue)
        {
            _broker.Queue(destination.Name).Enqueue(message, visibleAt);
        }
        else
        {
            foreach (var queue in _broker.SubscribersOf(destination.Name))
            {
                _broker.Queue(queue).Enqueue(message, visibleAt);
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<IReceivedMessage>> ReceiveAsync(
        string queue, int maxMessages, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
        return _broker.Queue(queue).ReceiveAsync(maxMessages, leaseDuration, _options.LongPollTime, cancellationToken);
    }

    /// <summary>Whether the message fits the size limit even if every header character took 3 UTF-8 bytes (the most
    /// a UTF-16 code unit takes): then the exact count is not needed. Walks the headers without allocating.</summary>
    private bool SurelyFits(TransportMessage message)
    {
        return message.Headers is IHeaderNames headers && message.Body.Length + (3 * headers.CharacterCount()) <= _options.MaxMessageSize;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<DeadLetter>> PeekAsync(string queue, int maxCount, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        IReadOnlyList<DeadLetter> result = _broker.TryGetQueue(queue, out var q)
            ? q.PeekDeadLetters(maxCount).Select(m => FailureDetails.Read(m, queue)).ToList()
            : [];
        return Task.FromResult(result);
    }

    /// <inheritdoc />
    public Task<DeadLetterPage> ListAsync(string queue, DeadLetterQuery query, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentNullException.ThrowIfNull(query);
        var all = _broker.TryGetQueue(queue, out var q) ? q.PeekDeadLetters(int.MaxValue) : [];
        return Task.FromResult(query.PageByOffset(all.Select(m => FailureDetails.Read(m, queue))));
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ListQueuesAsync(CancellationToken cancellationToken) => Task.FromResult(_broker.QueueNames());

    /// <inheritdoc />
    public Task<QueueStatistics> GetAsync(string queue, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        return Task.FromResult(_broker.TryGetQueue(queue, out var q)
            ? q.Statistics()
            : new QueueStatistics(queue, 0, 0, 0, 0, null, _broker.Time.GetUtcNow()));
    }

    /// <inheritdoc />
    public Task<int> RedriveAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        if (!_broker.TryGetQueue(queue, out var q))
        {
            return Task.FromResult(0);
        }

        var taken = q.TakeDeadLetters(messageIds);
        foreach (var message in taken)
        {
            q.Enqueue(FailureDetails.Read(message, queue).Message, visibleAt: null);
        }

        return Task.FromResult(taken.Count);
    }

    /// <inheritdoc />
    public Task<int> PurgeAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        return Task.FromResult(_broker.TryGetQueue(queue, out var q) ? q.TakeDeadLetters(messageIds).Count : 0);
    }

    /// <inheritdoc />
    [SuppressMessage("Design", "CA1816", Justification = "Nothing to finalize.")]
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

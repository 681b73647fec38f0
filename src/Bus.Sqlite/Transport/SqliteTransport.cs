using Bus.Sqlite.Schema;
using Bus.Sqlite.Transport;
using Bus.Timing;
using Bus.Transports;

namespace Bus.Sqlite;

/// <summary>
/// A durable transport in one SQLite database file (WAL mode): queues with row leases that expire and redeliver,
/// receive counts, delayed messages, pub/sub fan-out, lease renewal and a dead-letter queue per queue with redrive.
/// Several worker processes on one machine may share the file: receiving takes leases atomically under
/// <c>BEGIN IMMEDIATE</c> with a fresh random lease token, so a message is leased by one receiver at a time.
/// The schema is created on first use. Time comes from the options' <see cref="System.TimeProvider"/>.
/// </summary>
public sealed class SqliteTransport : ITransport
{
    private const string TransportName = "sqlite";
    private readonly MessageTable _table;
    private readonly QueueSignals _signals;
    private readonly TimeSpan _pollInterval;
    private readonly long _maxMessageSize;
    private readonly CancellationTokenSource _disposing = new();
    private int _disposed;

    /// <summary>Creates a transport over the database file the options name. Nothing is opened until first use.</summary>
    /// <exception cref="ArgumentException">The options name no database or are out of range.</exception>
    public SqliteTransport(SqliteTransportOptions options)
        : this(options, signals: null)
    {
    }

    /// <summary>Creates a transport with its own wake-up signals (tests use this to act as a separate process).</summary>
    internal SqliteTransport(SqliteTransportOptions options, QueueSignals? signals)
    {
        ArgumentNullException.ThrowIfNull(options);
        var database = new SqliteDatabase(options.Validate(), options.Synchronous);
        _table = new MessageTable(database);
        _signals = signals ?? QueueSignals.For(database.FilePath);
        _pollInterval = options.PollInterval;
        _maxMessageSize = options.MaxMessageSize;
        Time = options.TimeProvider ?? TimeProvider.System;
        Capabilities = new TransportCapabilities
        {
            Name = TransportName,
            CanRenewLease = true,
            CountsAttemptsAtStart = true,
            MaxLeaseDuration = TimeSpan.FromDays(7),
            MaxDelay = TimeSpan.FromDays(365),
            PublishSubscribe = true,
            Redrive = true,
            NativeDeadLetter = false,
            PriorityOrdering = PriorityOrdering.Native,
            MaxMessageSize = _maxMessageSize,
        };
        DeadLetters = new SqliteDeadLetterQueue(this);
        Statistics = new SqliteQueueStatistics(this);
    }

    /// <inheritdoc />
    public TransportCapabilities Capabilities { get; }

    /// <inheritdoc />
    public IDeadLetterQueue DeadLetters { get; }

    /// <inheritdoc />
    /// <remarks>Counted in the tables: ready rows are visible now, in-flight rows are under an unexpired lease, delayed
    /// rows wait for their <c>visible_at</c>; the oldest age is counted from <c>enqueued_at</c>.</remarks>
    public IQueueStatistics Statistics { get; }

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath => _table.Database.FilePath;

    internal TimeProvider Time { get; }

    internal MessageTable Table => _table;

    internal QueueSignals Signals => _signals;

    /// <inheritdoc />
    public async Task ProvisionAsync(TransportTopology topology, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(topology);
        ArgumentException.ThrowIfNullOrWhiteSpace(topology.InputQueue);
        foreach (var topic in topology.Subscriptions)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(topic, nameof(topology.Subscriptions));
        }

        ThrowIfDisposed();
        await _table.ProvisionAsync(topology, Time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <exception cref="MessageTooLargeException">A message is over <see cref="SqliteTransportOptions.MaxMessageSize"/>;
    /// then none was sent.</exception>
    public async Task SendAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        foreach (var message in messages)
        {
            ArgumentNullException.ThrowIfNull(message, nameof(messages));
            MessageSizeLimit.Check(message.Message, _maxMessageSize, TransportName);
        }

        ThrowIfDisposed();
        if (messages.Count == 0)
        {
            return;
        }

        var touched = await _table.SendAsync(messages, Time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        foreach (var queue in touched)
        {
            _signals.Notify(queue);
        }
    }

    /// <inheritdoc />
    /// <remarks>Waits up to <see cref="SqliteTransportOptions.PollInterval"/> when the queue is empty; a send by this
    /// process or a message falling due (a delay or an expired lease) ends the wait early.</remarks>
    public async ValueTask<IReadOnlyList<IReceivedMessage>> ReceiveAsync(
        string queue, int maxMessages, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(leaseDuration, Capabilities.MaxLeaseDuration);
        ThrowIfDisposed();
        var pollEnds = Time.GetUtcNow() + _pollInterval;
        while (true)
        {
            var signal = _signals.Next(queue);
            var now = Time.GetUtcNow();
            var (rows, nextVisibleAt) = await _table.TakeAsync(queue, maxMessages, now, now + leaseDuration, cancellationToken)
                .ConfigureAwait(false);
            if (rows.Count > 0)
            {
                return rows.Select(row => (IReceivedMessage)new SqliteReceivedMessage(this, queue, row)).ToList();
            }

            now = Time.GetUtcNow();
            if (now >= pollEnds || _disposing.IsCancellationRequested)
            {
                return [];
            }

            // An absolute time, not a wait: the clock may move before the timer is armed.
            var wakeAt = nextVisibleAt is { } next && next < pollEnds ? next : pollEnds;
            await WaitAsync(signal, wakeAt, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Messages waiting or in flight in <paramref name="queue"/> (not dead letters).</summary>
    internal Task<long> CountMessagesAsync(string queue, CancellationToken cancellationToken = default) =>
        _table.CountMessagesAsync(queue, cancellationToken);

    /// <summary>Dead letters held for <paramref name="queue"/>.</summary>
    internal Task<long> CountDeadLettersAsync(string queue, CancellationToken cancellationToken = default) =>
        _table.CountDeadLettersAsync(queue, cancellationToken);

    /// <summary>Stops waiting receives, finishes the writes already queued and lets the connections to the file go.
    /// Messages stay in the file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _disposing.CancelAsync().ConfigureAwait(false);
            await _table.DisposeAsync().ConfigureAwait(false);
            _table.Database.ReleasePooledConnections();
        }
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private async Task WaitAsync(Task signal, DateTimeOffset wakeAt, CancellationToken cancellationToken)
    {
        if (wakeAt <= Time.GetUtcNow())
        {
            return;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        var delay = PreciseDelay.WaitUntilAsync(Time, wakeAt, stop.Token);
        await Task.WhenAny(signal, delay).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false); // drops the timer when the signal came first
        cancellationToken.ThrowIfCancellationRequested();
    }
}

using Bus.PostgreSql.Schema;
using Bus.PostgreSql.Transport;
using Bus.Timing;
using Bus.Transports;

namespace Bus.PostgreSql;

/// <summary>
/// A durable transport on a PostgreSQL server, shared by every host that uses the same database and schema: one
/// messages table per schema (queue set) where receivers claim rows with <c>FOR UPDATE SKIP LOCKED</c> under a lease
/// (a random token and an expiry), <c>LISTEN/NOTIFY</c> wake-ups instead of tight polling, delayed messages, receive
/// counts, pub/sub fan-out in one statement, leases renewed in batches, and a dead-letter table with the failure
/// details, redrive and purge. Messages a handler sends are written in the transaction that settles the message it
/// handles (<see cref="PostgreSqlTransportOptions.TransactionalSends"/>). The schema is created or migrated at start-up.
/// </summary>
public sealed class PostgreSqlTransport : ITransport
{
    private const string TransportName = "postgresql";
    private readonly MessageTable _table;
    private readonly QueueNotifications _notifications;
    private readonly LeaseRenewals _renewals;
    private readonly TimeSpan _pollInterval;
    private readonly long _maxMessageSize;
    private readonly CancellationTokenSource _disposing = new();
    private int _disposed;

    /// <summary>Creates a transport over the database and schema the options name. Nothing is opened until first use.</summary>
    /// <exception cref="ArgumentException">The options name no server or are out of range.</exception>
    public PostgreSqlTransport(PostgreSqlTransportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var database = new PostgreSqlDatabase(options.ConnectionString!, options.Schema);
        _table = new MessageTable(database);
        _notifications = new QueueNotifications(database);
        _renewals = new LeaseRenewals(_table);
        _pollInterval = options.PollInterval;
        _maxMessageSize = options.MaxMessageSize;
        TransactionalSends = options.TransactionalSends;
        Time = options.TimeProvider ?? TimeProvider.System;
        Capabilities = new TransportCapabilities
        {
            Name = TransportName,
            CanRenewLease = true,
            MaxLeaseDuration = TimeSpan.FromDays(7),
            MaxDelay = TimeSpan.FromDays(365),
            PublishSubscribe = true,
            Redrive = true,
            NativeDeadLetter = false,
            PriorityOrdering = PriorityOrdering.Native,
            SharedBetweenHosts = true,
            CountsAttemptsAtStart = true,
            MaxMessageSize = _maxMessageSize,
        };
        DeadLetters = new PostgreSqlDeadLetterQueue(this);
        Statistics = new PostgreSqlQueueStatistics(this);
    }

    /// <inheritdoc />
    public TransportCapabilities Capabilities { get; }

    /// <inheritdoc />
    public IDeadLetterQueue DeadLetters { get; }

    /// <inheritdoc />
    public IQueueStatistics Statistics { get; }

    /// <summary>The schema that holds the queues.</summary>
    public string Schema => _table.Database.SchemaName;

    internal TimeProvider Time { get; }

    internal MessageTable Table => _table;

    internal LeaseRenewals Renewals => _renewals;

    internal QueueNotifications Notifications => _notifications;

    internal bool TransactionalSends { get; }

    /// <inheritdoc />
    /// <remarks>Creates or migrates the schema (a start-up error names an unreachable server, a missing right or a
    /// schema newer than this version knows), then records the queue and its subscriptions.</remarks>
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
    /// <remarks>Inside a handler of a message received from this transport, the messages are held and written in the
    /// transaction that settles that message (unless <see cref="PostgreSqlTransportOptions.TransactionalSends"/> is off).</remarks>
    /// <exception cref="MessageTooLargeException">A message is over <see cref="PostgreSqlTransportOptions.MaxMessageSize"/>;
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
        if (messages.Count == 0 || (TransactionalSends && TransactionalSendsStep.Current?.TryHold(this, messages) == true))
        {
            return;
        }

        var touched = await _table.SendAsync(messages, Time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        foreach (var queue in touched)
        {
            _notifications.Notify(queue);
        }
    }

    /// <inheritdoc />
    /// <remarks>Waits up to <see cref="PostgreSqlTransportOptions.PollInterval"/> when the queue is empty; a send by any
    /// host (a <c>NOTIFY</c>) or a message falling due (a delay or an expired lease) ends the wait early.</remarks>
    public async ValueTask<IReadOnlyList<IReceivedMessage>> ReceiveAsync(
        string queue, int maxMessages, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(leaseDuration, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(leaseDuration, Capabilities.MaxLeaseDuration);
        ThrowIfDisposed();
        await _notifications.EnsureListeningAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        var pollEnds = Time.GetUtcNow() + _pollInterval;
        while (true)
        {
            var signal = _notifications.Next(queue);
            var now = Time.GetUtcNow();
            var (rows, nextVisibleAt) = await _table.TakeAsync(queue, maxMessages, now, now + leaseDuration, cancellationToken)
                .ConfigureAwait(false);
            if (rows.Count > 0)
            {
                return rows.Select(row => (IReceivedMessage)Deliver(queue, row)).ToList();
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

    /// <summary>Stops waiting receives, the listening connection and the renewals, and closes the pooled connections.
    /// Messages stay in the database.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _disposing.CancelAsync().ConfigureAwait(false);
            await _notifications.DisposeAsync().ConfigureAwait(false);
            await _renewals.DisposeAsync().ConfigureAwait(false);
            await _table.Database.DisposeAsync().ConfigureAwait(false);
        }
    }

    private PostgreSqlReceivedMessage Deliver(string queue, LeasedRow row)
    {
        var delivery = new PostgreSqlReceivedMessage(this, queue, row);
        if (TransactionalSends)
        {
            TransactionalSendsStep.Track(delivery);
        }

        return delivery;
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

using Bus.Transports;

namespace Bus.Testing;

/// <summary>
/// Wraps the harness's in-memory transport: records every outgoing message and tracks the messages of the harness
/// endpoint's queue (by identity) until they are settled, so the harness knows when nothing is due or running.
/// </summary>
internal sealed class HarnessTransport(ITransport inner, TimeProvider time) : ITransport
{
    private readonly object _gate = new();
    private readonly List<RecordedMessage> _recorded = [];
    private readonly Dictionary<TransportMessage, Tracked> _outstanding = new(ReferenceEqualityComparer.Instance);
    private HashSet<string> _subscriptions = new(StringComparer.Ordinal);
    private string? _queue;
    private TaskCompletionSource _changed = NewSignal();

    public TransportCapabilities Capabilities => inner.Capabilities;

    public IDeadLetterQueue DeadLetters => inner.DeadLetters;

    public IReadOnlyList<RecordedMessage> Recorded
    {
        get
        {
            lock (_gate)
            {
                return _recorded.ToArray();
            }
        }
    }

    public async Task ProvisionAsync(TransportTopology topology, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(topology);
        lock (_gate)
        {
            _queue = topology.InputQueue;
            _subscriptions = new HashSet<string>(topology.Subscriptions, StringComparer.Ordinal);
        }

        await inner.ProvisionAsync(topology, cancellationToken).ConfigureAwait(false);
    }

    public async Task SendAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);

        // Give id-less (foreign) payloads their id here, as the broker would, so the message tracked is the one received.
        messages = messages.Select(m => m.Message.MessageId is null
            ? m with { Message = m.Message.WithHeaders([new(MessageHeaders.MessageId, Guid.NewGuid().ToString())]) }
            : m).ToList();
        var now = time.GetUtcNow();
        var tracked = new List<TransportMessage>();
        lock (_gate)
        {
            foreach (var message in messages)
            {
                _recorded.Add(new RecordedMessage(message.Destination, message.Message, now, message.VisibleAt));
                if (IsForThisEndpoint(message.Destination))
                {
                    _outstanding[message.Message] = new Tracked { DueAt = message.VisibleAt is { } at && at > now ? at : now };
                    tracked.Add(message.Message);
                }
            }
        }

        try
        {
            await inner.SendAsync(messages, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            lock (_gate)
            {
                tracked.ForEach(m => _outstanding.Remove(m));
            }

            throw;
        }
        finally
        {
            Signal();
        }
    }

    public async ValueTask<IReadOnlyList<IReceivedMessage>> ReceiveAsync(string queue, int maxMessages, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        var received = await inner.ReceiveAsync(queue, maxMessages, leaseDuration, cancellationToken).ConfigureAwait(false);
        if (received.Count == 0)
        {
            return received;
        }

        lock (_gate)
        {
            foreach (var message in received)
            {
                _outstanding[message.Message] = new Tracked { Leased = true };
            }
        }

        return received.Select(r => (IReceivedMessage)new TrackedReceived(this, r)).ToList();
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    /// <summary>Whether no message of the endpoint is due now or being handled; else a task that completes on the next change.</summary>
    public bool IsIdle(out Task changed, out int busy)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            busy = _outstanding.Values.Count(t => t.Leased || t.DueAt <= now);
            changed = _changed.Task;
            return busy == 0;
        }
    }

    /// <summary>The earliest time a waiting message of the endpoint becomes due, if any.</summary>
    public DateTimeOffset? NextDue()
    {
        lock (_gate)
        {
            return _outstanding.Values.Where(t => !t.Leased).Select(t => (DateTimeOffset?)t.DueAt).Min();
        }
    }

    private bool IsForThisEndpoint(Destination destination) =>
        destination.Kind == DestinationKind.Queue ? destination.Name == _queue : _subscriptions.Contains(destination.Name);

    private void Settled(TransportMessage message, DateTimeOffset? dueAgainAt)
    {
        lock (_gate)
        {
            if (dueAgainAt is { } due)
            {
                _outstanding[message] = new Tracked { DueAt = due };
            }
            else
            {
                _outstanding.Remove(message);
            }
        }

        Signal();
    }

    private void Signal()
    {
        TaskCompletionSource signal;
        lock (_gate)
        {
            signal = _changed;
            _changed = NewSignal();
        }

        signal.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class Tracked
    {
        public bool Leased { get; init; }

        public DateTimeOffset DueAt { get; init; }
    }

    private sealed class TrackedReceived(HarnessTransport owner, IReceivedMessage inner) : IReceivedMessage
    {
        public TransportMessage Message => inner.Message;

        public string Queue => inner.Queue;

        public int ReceiveCount => inner.ReceiveCount;

        public DateTimeOffset LeaseExpiresAt => inner.LeaseExpiresAt;

        public Task<DateTimeOffset> RenewLeaseAsync(TimeSpan duration, CancellationToken cancellationToken) => inner.RenewLeaseAsync(duration, cancellationToken);

        public ValueTask BeginAttemptAsync(CancellationToken cancellationToken) => inner.BeginAttemptAsync(cancellationToken);

        public Task CompleteAsync(CancellationToken cancellationToken) => SettleAsync(() => inner.CompleteAsync(cancellationToken), null);

        public Task AbandonAsync(TimeSpan delay, CancellationToken cancellationToken) =>
            SettleAsync(() => inner.AbandonAsync(delay, cancellationToken), delay);

        public Task ReleaseAsync(TimeSpan delay, CancellationToken cancellationToken) =>
            SettleAsync(() => inner.ReleaseAsync(delay, cancellationToken), delay);

        public Task DeadLetterAsync(FailureDetails failure, CancellationToken cancellationToken) =>
            SettleAsync(() => inner.DeadLetterAsync(failure, cancellationToken), null);

        private async Task SettleAsync(Func<Task> settle, TimeSpan? dueAgainIn)
        {
            try
            {
                await settle().ConfigureAwait(false);
            }
            catch (LeaseLostException)
            {
                owner.Settled(inner.Message, inner.LeaseExpiresAt);
                throw;
            }

            owner.Settled(inner.Message, dueAgainIn is { } delay ? owner.TimeNow() + delay : null);
        }
    }

    private DateTimeOffset TimeNow() => time.GetUtcNow();
}

/// <summary>A message the harness endpoint sent or published (or the test sent through it).</summary>
/// <param name="Destination">The queue or topic.</param>
/// <param name="Message">Headers and body as sent.</param>
/// <param name="SentAt">When it was sent (harness clock).</param>
/// <param name="DueAt">When it is to be delivered, when delayed.</param>
public sealed record RecordedMessage(Destination Destination, TransportMessage Message, DateTimeOffset SentAt, DateTimeOffset? DueAt)
{
    /// <summary>The wire name from the headers, or null for a foreign payload.</summary>
    public string? MessageType => Message.Headers.GetValueOrDefault(MessageHeaders.MessageType);

    /// <summary>Whether it was sent while a handler ran (it names the message it was caused by).</summary>
    public bool SentByHandler => Message.Headers.ContainsKey(MessageHeaders.CausationId);

    /// <summary>Whether it was sent with a delay (e.g. a workflow timeout).</summary>
    public bool IsDelayed => DueAt is { } due && due > SentAt;
}

using Bus.Transports;

namespace Bus.Tests.Support;

/// <summary>Wraps a transport so a test can "crash" the worker using it: after <see cref="Crash"/>, every call fails
/// as if the process were gone (no receives, no heartbeats, no settlements).</summary>
public sealed class FaultyTransport(ITransport inner) : ITransport
{
    private volatile bool _crashed;

    public TransportCapabilities Capabilities => inner.Capabilities;

    public IDeadLetterQueue DeadLetters => inner.DeadLetters;

    public int FailedCalls;

    /// <summary>Added to every receive count, as if the message had been received this many times before by workers that
    /// were killed.</summary>
    public int EarlierReceives { get; set; }

    /// <summary>The delays of every release, in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<TimeSpan> Releases { get; } = new();

    public void Crash() => _crashed = true;

    /// <summary>While true, lease renewals fail as a network partition would (the worker lives on, its heartbeats do
    /// not reach the broker).</summary>
    public bool RenewalsFail { get; set; }

    public Task ProvisionAsync(TransportTopology topology, CancellationToken cancellationToken) => inner.ProvisionAsync(topology, cancellationToken);

    public Task SendAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken)
    {
        ThrowIfCrashed();
        return inner.SendAsync(messages, cancellationToken);
    }

    public async ValueTask<IReadOnlyList<IReceivedMessage>> ReceiveAsync(string queue, int maxMessages, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        ThrowIfCrashed();
        var received = await inner.ReceiveAsync(queue, maxMessages, leaseDuration, cancellationToken);
        return received.Select(m => (IReceivedMessage)new Received(this, m)).ToList();
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private void ThrowIfCrashed()
    {
        if (_crashed)
        {
            Interlocked.Increment(ref FailedCalls);
            throw new IOException("The worker process is gone.");
        }
    }

    private sealed class Received(FaultyTransport owner, IReceivedMessage inner) : IReceivedMessage
    {
        public TransportMessage Message => inner.Message;

        public string Queue => inner.Queue;

        public int ReceiveCount => inner.ReceiveCount + owner.EarlierReceives;

        public DateTimeOffset LeaseExpiresAt => inner.LeaseExpiresAt;

        public Task<DateTimeOffset> RenewLeaseAsync(TimeSpan duration, CancellationToken cancellationToken)
        {
            owner.ThrowIfCrashed();
            if (owner.RenewalsFail)
            {
                Interlocked.Increment(ref owner.FailedCalls);
                throw new IOException("The broker cannot be reached.");
            }

            return inner.RenewLeaseAsync(duration, cancellationToken);
        }

        public ValueTask BeginAttemptAsync(CancellationToken cancellationToken) => inner.BeginAttemptAsync(cancellationToken);

        public Task CompleteAsync(CancellationToken cancellationToken)
        {
            owner.ThrowIfCrashed();
            return inner.CompleteAsync(cancellationToken);
        }

        public Task AbandonAsync(TimeSpan delay, CancellationToken cancellationToken)
        {
            owner.ThrowIfCrashed();
            return inner.AbandonAsync(delay, cancellationToken);
        }

        public Task ReleaseAsync(TimeSpan delay, CancellationToken cancellationToken)
        {
            owner.ThrowIfCrashed();
            owner.Releases.Enqueue(delay);
            return inner.ReleaseAsync(delay, cancellationToken);
        }

        public Task DeadLetterAsync(FailureDetails failure, CancellationToken cancellationToken)
        {
            owner.ThrowIfCrashed();
            return inner.DeadLetterAsync(failure, cancellationToken);
        }
    }
}

/// <summary>Wraps a transport to report other capabilities (for start-up checks).</summary>
public sealed class CapabilityOverride(ITransport inner, Func<TransportCapabilities, TransportCapabilities> change) : ITransport
{
    public TransportCapabilities Capabilities { get; } = change(inner.Capabilities);

    public IDeadLetterQueue DeadLetters => inner.DeadLetters;

    public Task ProvisionAsync(TransportTopology topology, CancellationToken cancellationToken) => inner.ProvisionAsync(topology, cancellationToken);

    public Task SendAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken) => inner.SendAsync(messages, cancellationToken);

    public ValueTask<IReadOnlyList<IReceivedMessage>> ReceiveAsync(string queue, int maxMessages, TimeSpan leaseDuration, CancellationToken cancellationToken) =>
        inner.ReceiveAsync(queue, maxMessages, leaseDuration, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

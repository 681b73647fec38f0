using Bus.Leases;
using Bus.Transports;

namespace Bus.Pipeline;

/// <summary>
/// One delivery on its way through the incoming steps: the received message and what the steps before learned of it
/// (its type, the deserialized message, the DI scope). Made by the worker that received the message, which owns it until
/// it is settled. The same object is the handlers' <see cref="IMessageContext"/> once the handling attempt starts
/// (<see cref="MessageContext"/>): one object per delivery.
/// </summary>
public abstract class IncomingContext
{
    private object? _message;
    private IServiceProvider? _services;
    private bool _attemptStarted;

    private readonly ShutdownSignals _shutdown;

    private protected IncomingContext(IReceivedMessage received, LeaseRenewer renewer, int delivery, ShutdownSignals shutdown)
    {
        Received = received;
        Renewer = renewer;
        Delivery = delivery;
        _shutdown = shutdown;
    }

    /// <summary>The message id (stable across retries and redrives).</summary>
    public string MessageId => Received.Message.MessageId ?? string.Empty;

    /// <summary>The message's wire name once known (null for a foreign payload not yet recognised or an unknown name).</summary>
    public string? MessageType => Type?.WireName;

    /// <summary>All headers as received.</summary>
    public IReadOnlyDictionary<string, string> Headers => Received.Message.Headers;

    /// <summary>Which attempt this is (the transport's receive count, 1 on the first delivery).</summary>
    public int Attempt => Received.ReceiveCount;

    /// <summary>The queue the message came from.</summary>
    public string Queue => Received.Queue;

    /// <summary>The deserialized message. Set before user steps run.</summary>
    /// <exception cref="InvalidOperationException">Read before the message was deserialized.</exception>
    public object Message
    {
        get => _message ?? throw new InvalidOperationException("The message is not deserialized yet: user steps run after deserialization.");
        internal set => _message = value;
    }

    /// <summary>The message's DI scope (one per message, disposed after its handlers and held sends are done).</summary>
    /// <exception cref="InvalidOperationException">Read outside the scope.</exception>
    public IServiceProvider Services =>
        _services ?? throw new InvalidOperationException("The message's DI scope is not open: user steps run inside it.");

    /// <summary>The context the handlers get: bus, steps, lease extension, <see cref="IMessageContext.FailAsync"/>.</summary>
    /// <exception cref="InvalidOperationException">Read before the handling attempt started.</exception>
    public IMessageContext MessageContext =>
        Handler ?? throw new InvalidOperationException("The handling attempt has not started: user steps run inside it.");

    /// <summary>Cancelled when the lease is lost, the max runtime is reached, or a hard stop cancels handlers; already
    /// cancelled once the delivery has ended.</summary>
    public CancellationToken CancellationToken => Renewer.TokenFor(Delivery);

    internal IReceivedMessage Received { get; }

    /// <summary>Keeps the lease alive from receive to settle: the worker's renewer, holding this delivery.</summary>
    internal LeaseRenewer Renewer { get; }

    /// <summary>This delivery's number on <see cref="Renewer"/>.</summary>
    internal int Delivery { get; }

    /// <summary>Cancelled when the host starts stopping (checkpoints release then).</summary>
    internal CancellationToken Stopping => _shutdown.Stopping;

    /// <summary>Cancelled when the shutdown timeout has passed.</summary>
    internal CancellationToken HardStop => _shutdown.HardStop;

    /// <summary>How the type is handled here, once resolved.</summary>
    internal TypeHandling? Handling { get; set; }

    /// <summary>The registered type, once resolved.</summary>
    internal MessageType? Type => Handling?.Type;

    /// <summary>Whether the message is deserialized (a system message is, when recognised).</summary>
    internal bool HasMessage => _message is not null;

    /// <summary>The scope's provider while it is open.</summary>
    internal IServiceProvider? ScopeServices
    {
        get => _services;
        set => _services = value;
    }

    /// <summary>This delivery as the handlers' context, once the attempt started; null before.</summary>
    internal MessageContext? Handler => _attemptStarted ? (MessageContext)this : null;

    /// <summary>The handling attempt starts: from now on the delivery is also the handlers' context.</summary>
    internal MessageContext BeginAttempt()
    {
        _attemptStarted = true;
        return (MessageContext)this;
    }
}

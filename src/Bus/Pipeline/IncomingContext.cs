using Bus.Leases;
using Bus.Transports;

namespace Bus.Pipeline;

/// <summary>
/// One delivery on its way through the incoming steps: the received message and what the steps before learned of it
/// (its type, the deserialized message, the DI scope, the handlers' context). Made by the worker that received the
/// message, which owns it until it is settled.
/// </summary>
public sealed class IncomingContext
{
    private object? _message;
    private IServiceProvider? _services;
    private MessageContext? _handler;

    internal IncomingContext(IReceivedMessage received, LeaseRenewer renewer, CancellationToken stopping, CancellationToken hardStop)
    {
        Received = received;
        Renewer = renewer;
        Stopping = stopping;
        HardStop = hardStop;
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
        _handler ?? throw new InvalidOperationException("The handling attempt has not started: user steps run inside it.");

    /// <summary>Cancelled when the lease is lost, the max runtime is reached, or a hard stop cancels handlers.</summary>
    public CancellationToken CancellationToken => Renewer.HandlerToken;

    internal IReceivedMessage Received { get; }

    /// <summary>Keeps the lease alive from receive to settle; held by the worker.</summary>
    internal LeaseRenewer Renewer { get; }

    /// <summary>Cancelled when the host starts stopping (checkpoints release then).</summary>
    internal CancellationToken Stopping { get; }

    /// <summary>Cancelled when the shutdown timeout has passed.</summary>
    internal CancellationToken HardStop { get; }

    /// <summary>The registered type, once resolved.</summary>
    internal MessageType? Type { get; set; }

    /// <summary>How the type is handled here, once resolved.</summary>
    internal TypeHandling? Handling { get; set; }

    /// <summary>Whether the message is deserialized (a system message is, when recognised).</summary>
    internal bool HasMessage => _message is not null;

    /// <summary>The scope's provider while it is open.</summary>
    internal IServiceProvider? ScopeServices
    {
        get => _services;
        set => _services = value;
    }

    /// <summary>The handlers' context, once the attempt started.</summary>
    internal MessageContext? Handler
    {
        get => _handler;
        set => _handler = value;
    }
}

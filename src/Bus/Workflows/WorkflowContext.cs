namespace Bus.Workflows;

/// <summary>
/// What a workflow handler works with: the instance's state, the message being handled, and the ways to send,
/// schedule timeouts and finish. Everything sent while the handler runs carries the workflow id as a sticky header
/// and goes out only when the message is handled successfully.
/// </summary>
/// <typeparam name="TState">The workflow's state.</typeparam>
public sealed class WorkflowContext<TState>
    where TState : class, new()
{
    private readonly string _endpoint;
    private readonly List<string> _notes = [];

    internal WorkflowContext(string workflowId, bool isNew, TState state, IMessageContext message, string endpoint)
    {
        WorkflowId = workflowId;
        IsNew = isNew;
        State = state;
        Message = message;
        _endpoint = endpoint;
    }

    /// <summary>The instance id; it rides as the sticky <see cref="MessageHeaders.WorkflowId"/> header.</summary>
    public string WorkflowId { get; }

    /// <summary>Whether this message started the instance.</summary>
    public bool IsNew { get; }

    /// <summary>The state; change it in place or replace it (e.g. <c>State = State with { ... }</c>). Saved when the
    /// handler returns, unless <see cref="Discard"/> was called.</summary>
    public TState State { get; set; }

    /// <summary>The message being handled: id, headers, attempt, bus, steps, cancellation.</summary>
    public IMessageContext Message { get; }

    /// <summary>Cancelled when the handler must stop (lease lost, max runtime, shutdown).</summary>
    public CancellationToken CancellationToken => Message.CancellationToken;

    /// <summary>The status the instance will be saved with.</summary>
    public WorkflowStatus Status { get; private set; } = WorkflowStatus.Running;

    /// <summary>Why the instance failed, once <see cref="Fail"/> was called.</summary>
    public string? FailureReason { get; private set; }

    /// <summary>Whether <see cref="Discard"/> was called.</summary>
    public bool IsDiscarded { get; private set; }

    /// <summary>The message's DI scope (for workflows the library defines, e.g. container tasks).</summary>
    internal IServiceProvider? Services { get; set; }

    internal string? Note => _notes.Count == 0 ? null : string.Join("; ", _notes);

    /// <summary>Sends a command; it carries the workflow id, so its replies find this instance.</summary>
    public Task SendAsync<TCommand>(TCommand command, DeliveryOptions? options = null)
        where TCommand : class => Message.Bus.SendAsync(command, options, CancellationToken);

    /// <summary>Publishes an event carrying the workflow id.</summary>
    public Task PublishAsync<TEvent>(TEvent @event, DeliveryOptions? options = null)
        where TEvent : class => Message.Bus.PublishAsync(@event, options, CancellationToken);

    /// <summary>
    /// Sends <paramref name="timeout"/> to this endpoint after <paramref name="delay"/>, carrying the workflow id so
    /// it comes back to this instance (declare it with <c>Handles&lt;T&gt;(handler)</c>). It is as durable as the
    /// transport's delayed delivery.
    /// </summary>
    public async Task RequestTimeoutAsync<TTimeout>(TimeSpan delay, TTimeout timeout)
        where TTimeout : class
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(timeout);
        await Message.Bus.SendAsync(timeout, new DeliveryOptions { Delay = delay, Destination = _endpoint }, CancellationToken).ConfigureAwait(false);
        _notes.Add($"timeout {typeof(TTimeout).Name} in {delay}");
    }

    /// <summary>Marks the instance completed; later messages for it are unmatched.</summary>
    public void Complete()
    {
        Status = WorkflowStatus.Completed;
        FailureReason = null;
        _notes.Add("completed");
    }

    /// <summary>Marks the instance failed with <paramref name="reason"/>, visible through
    /// <see cref="IWorkflowStatusQuery"/>. The message itself is handled successfully (publish compensation events
    /// before failing); throw instead to retry the message.</summary>
    public void Fail(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        Status = WorkflowStatus.Failed;
        FailureReason = reason;
        _notes.Add($"failed: {reason}");
    }

    /// <summary>Ignores this message: nothing is saved (no state change, no history entry) and a starting message
    /// starts no instance. Use it for stale or irrelevant messages, e.g. an older event version. Messages already
    /// sent by the handler still go out.</summary>
    public void Discard() => IsDiscarded = true;

    /// <summary>Adds a line to this message's history entry.</summary>
    public void Annotate(string note)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(note);
        _notes.Add(note);
    }
}

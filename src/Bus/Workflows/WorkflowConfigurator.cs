using System.Linq.Expressions;
using System.Reflection;

namespace Bus.Workflows;

/// <summary>Declares what a <see cref="Workflow{TState}"/> handles and how messages find their instance.</summary>
/// <typeparam name="TState">The workflow's state.</typeparam>
public sealed class WorkflowConfigurator<TState>
    where TState : class, new()
{
    private readonly Dictionary<Type, WorkflowMessageBinding<TState>> _bindings = [];

    internal WorkflowConfigurator()
    {
    }

    internal PropertyInfo? CorrelationProperty { get; private set; }

    internal UnmatchedMessagePolicy UnmatchedPolicy { get; private set; }

    internal IReadOnlyDictionary<Type, WorkflowMessageBinding<TState>> Bindings => _bindings;

    /// <summary>
    /// Names the state property that holds the instance's correlation value. A starting message sets it from its own
    /// mapped value; every message mapped with a correlation is matched to the instance whose property has that value.
    /// </summary>
    public WorkflowConfigurator<TState> CorrelateBy(Expression<Func<TState, string?>> stateProperty)
    {
        ArgumentNullException.ThrowIfNull(stateProperty);
        if (stateProperty.Body is not MemberExpression { Member: PropertyInfo property } || !property.CanWrite)
        {
            throw new BusConfigurationException(
                $"CorrelateBy needs a settable property of {typeof(TState).Name}, e.g. s => s.OrderId (was {stateProperty}).");
        }

        CorrelationProperty = property;
        return this;
    }

    /// <summary>A message that starts an instance, matched by <paramref name="correlation"/> to the state's
    /// correlation property: when an instance with that value exists, it continues that instance instead of starting
    /// a duplicate.</summary>
    public WorkflowConfigurator<TState> StartedBy<TMessage>(Func<TMessage, string?> correlation, Func<TMessage, WorkflowContext<TState>, Task> handler)
        where TMessage : class
    {
        ArgumentNullException.ThrowIfNull(correlation);
        return Add(handler, isStart: true, m => correlation((TMessage)m));
    }

    /// <summary>A message that starts a new instance each time it arrives (no correlation); a redelivery of the same
    /// message finds the instance it started.</summary>
    public WorkflowConfigurator<TState> StartedBy<TMessage>(Func<TMessage, WorkflowContext<TState>, Task> handler)
        where TMessage : class => Add(handler, isStart: true, null);

    /// <summary>A message that continues a running instance, matched by <paramref name="correlation"/> to the state's
    /// correlation property.</summary>
    public WorkflowConfigurator<TState> Handles<TMessage>(Func<TMessage, string?> correlation, Func<TMessage, WorkflowContext<TState>, Task> handler)
        where TMessage : class
    {
        ArgumentNullException.ThrowIfNull(correlation);
        return Add(handler, isStart: false, m => correlation((TMessage)m));
    }

    /// <summary>A message that continues a running instance, found by the workflow id header
    /// (<see cref="MessageHeaders.WorkflowId"/>) that rides along on everything the workflow sends: replies and
    /// timeouts.</summary>
    public WorkflowConfigurator<TState> Handles<TMessage>(Func<TMessage, WorkflowContext<TState>, Task> handler)
        where TMessage : class => Add(handler, isStart: false, null);

    /// <summary>What happens to any message of this workflow that matches no running instance (default
    /// <see cref="UnmatchedMessagePolicy.Complete"/>: logged, counted and completed).</summary>
    public WorkflowConfigurator<TState> WhenUnmatched(UnmatchedMessagePolicy policy)
    {
        UnmatchedPolicy = policy;
        return this;
    }

    /// <summary>What happens to <typeparamref name="TMessage"/> when it matches no running instance; overrides
    /// <see cref="WhenUnmatched(UnmatchedMessagePolicy)"/>. Declare the message first.</summary>
    public WorkflowConfigurator<TState> WhenUnmatched<TMessage>(UnmatchedMessagePolicy policy)
        where TMessage : class
    {
        if (!_bindings.TryGetValue(typeof(TMessage), out var binding))
        {
            throw new BusConfigurationException($"Declare how the workflow handles {typeof(TMessage).Name} before WhenUnmatched<{typeof(TMessage).Name}>(...).");
        }

        _bindings[typeof(TMessage)] = binding with { Unmatched = policy };
        return this;
    }

    /// <summary>What happens to <typeparamref name="TMessage"/> when it matches no running instance, with the time
    /// <see cref="UnmatchedMessagePolicy.RetryThenComplete"/> keeps retrying it (measured from when the message was sent
    /// or, for a system message, when its event happened).</summary>
    public WorkflowConfigurator<TState> WhenUnmatched<TMessage>(UnmatchedMessagePolicy policy, TimeSpan retryFor)
        where TMessage : class
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(retryFor, TimeSpan.Zero);
        WhenUnmatched<TMessage>(policy);
        _bindings[typeof(TMessage)] = _bindings[typeof(TMessage)] with { UnmatchedRetryFor = retryFor };
        return this;
    }

    private WorkflowConfigurator<TState> Add<TMessage>(Func<TMessage, WorkflowContext<TState>, Task> handler, bool isStart, Func<object, string?>? correlate)
        where TMessage : class
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (_bindings.ContainsKey(typeof(TMessage)))
        {
            throw new BusConfigurationException($"The workflow declares {typeof(TMessage).Name} twice; a message type has one handler per workflow.");
        }

        _bindings[typeof(TMessage)] = new WorkflowMessageBinding<TState>(
            typeof(TMessage), isStart, correlate, (m, c) => handler((TMessage)m, c), Unmatched: null);
        return this;
    }
}

/// <summary>How one message type finds and drives an instance.</summary>
internal sealed record WorkflowMessageBinding<TState>(
    Type MessageType,
    bool IsStart,
    Func<object, string?>? Correlate,
    Func<object, WorkflowContext<TState>, Task> Handler,
    UnmatchedMessagePolicy? Unmatched,
    TimeSpan? UnmatchedRetryFor = null)
    where TState : class, new();

/// <summary>What happens to a workflow message that matches no running instance. It is always logged and counted
/// (<c>bus.workflow.unmatched</c>); it is never dropped silently.</summary>
public enum UnmatchedMessagePolicy
{
    /// <summary>Complete it without effect (the default).</summary>
    Complete,

    /// <summary>Dead-letter it at once with the reason.</summary>
    DeadLetter,

    /// <summary>Fail the attempt so the retry policy tries again later (e.g. an event that can overtake the save of
    /// the instance it belongs to); dead-lettered when the attempts are exhausted.</summary>
    Retry,

    /// <summary>Retry it for a bounded time (default 5 minutes, and never past the retry policy's attempts), then
    /// complete it with a log line and the count: for events that may overtake the save of their instance but may as
    /// well belong to no instance at all (e.g. ECS events of tasks other code started).</summary>
    RetryThenComplete,
}

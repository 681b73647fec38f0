using System.Reflection;
using System.Runtime.CompilerServices;

namespace Bus.Workflows;

/// <summary>What a workflow type declared, read once at registration.</summary>
internal sealed class WorkflowDefinition<TWorkflow, TState>
    where TWorkflow : Workflow<TState>
    where TState : class, new()
{
    private WorkflowDefinition(string name, PropertyInfo? correlationProperty, UnmatchedMessagePolicy unmatched, IReadOnlyDictionary<Type, WorkflowMessageBinding<TState>> bindings)
    {
        Name = name;
        CorrelationProperty = correlationProperty;
        Unmatched = unmatched;
        Bindings = bindings;
    }

    public string Name { get; }

    public PropertyInfo? CorrelationProperty { get; }

    public UnmatchedMessagePolicy Unmatched { get; }

    public IReadOnlyDictionary<Type, WorkflowMessageBinding<TState>> Bindings { get; }

    public static WorkflowDefinition<TWorkflow, TState> Read(string name)
    {
        if (typeof(TWorkflow).IsAbstract)
        {
            throw new BusConfigurationException($"Workflow '{typeof(TWorkflow).FullName}' is abstract; register a concrete workflow.");
        }

        // Configure only declares: read it from an instance whose constructor has not run, as its dependencies are
        // not available at registration.
        var probe = (TWorkflow)RuntimeHelpers.GetUninitializedObject(typeof(TWorkflow));
        var configurator = Configure(probe);
        if (configurator.Bindings.Count == 0 || !configurator.Bindings.Values.Any(b => b.IsStart))
        {
            throw new BusConfigurationException($"Workflow '{name}' must declare at least one message with StartedBy<T>(...).");
        }

        if (configurator.Bindings.Values.Any(b => b.Correlate is not null) && configurator.CorrelationProperty is null)
        {
            throw new BusConfigurationException(
                $"Workflow '{name}' maps messages by a correlation value but names no state property for it: call workflow.CorrelateBy(s => s.SomeId).");
        }

        return new WorkflowDefinition<TWorkflow, TState>(name, configurator.CorrelationProperty, configurator.UnmatchedPolicy, configurator.Bindings);
    }

    public static WorkflowConfigurator<TState> Configure(TWorkflow workflow)
    {
        var configurator = new WorkflowConfigurator<TState>();
        try
        {
            workflow.Declare(configurator);
        }
        catch (Exception ex) when (ex is NullReferenceException or InvalidOperationException)
        {
            throw new BusConfigurationException(
                $"Configure of workflow '{typeof(TWorkflow).FullName}' failed ({ex.Message}); it may only declare messages and handlers, not use dependencies.");
        }

        return configurator;
    }
}

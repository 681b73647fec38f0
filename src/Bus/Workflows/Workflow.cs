namespace Bus.Workflows;

/// <summary>
/// A workflow (saga): a class over a state record that is started by some messages, handles others, and keeps its
/// state between them in an <see cref="IWorkflowStore"/> with optimistic concurrency. Register it with
/// <c>bus.AddWorkflow&lt;TWorkflow&gt;()</c>; it is resolved from the message's DI scope, so it may take
/// constructor dependencies.
/// </summary>
/// <typeparam name="TState">The state; serialized as JSON with the bus's settings.</typeparam>
public abstract class Workflow<TState>
    where TState : class, new()
{
    /// <summary>
    /// Declares the messages that start and continue the workflow, how each finds its instance, and the handler
    /// methods. It only declares: it runs once at registration on an instance whose constructor has not run, and
    /// again for every message on the resolved instance, so it must not use injected dependencies.
    /// </summary>
    protected abstract void Configure(WorkflowConfigurator<TState> workflow);

    internal void Declare(WorkflowConfigurator<TState> workflow) => Configure(workflow);
}

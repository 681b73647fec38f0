using System.Text.Json;

namespace Bus.Workflows;

/// <summary>Looks up workflow instances: state, status, failure reason and history. Registered by
/// <c>bus.AddWorkflow&lt;T&gt;()</c>.</summary>
public interface IWorkflowStatusQuery
{
    /// <summary>The instance of <typeparamref name="TWorkflow"/> with this id, or null.</summary>
    Task<WorkflowSnapshot?> GetAsync<TWorkflow>(string id, CancellationToken cancellationToken = default)
        where TWorkflow : class;

    /// <summary>The instance of <typeparamref name="TWorkflow"/> with this correlation value, or null.</summary>
    Task<WorkflowSnapshot?> FindAsync<TWorkflow>(string correlationValue, CancellationToken cancellationToken = default)
        where TWorkflow : class;

    /// <summary>The instance of the workflow registered as <paramref name="workflowName"/> with this id, or null.</summary>
    Task<WorkflowSnapshot?> GetAsync(string workflowName, string id, CancellationToken cancellationToken = default);

    /// <summary>The instance of the workflow registered as <paramref name="workflowName"/> with this correlation value, or null.</summary>
    Task<WorkflowSnapshot?> FindAsync(string workflowName, string correlationValue, CancellationToken cancellationToken = default);

    /// <summary>A page of the instances of a workflow (by registered name), optionally of one status, newest first or
    /// by id; pass <see cref="WorkflowPage.ContinuationToken"/> back in the query for the next page.</summary>
    /// <exception cref="ArgumentException">The query is not valid.</exception>
    Task<WorkflowPage> ListAsync(WorkflowListQuery query, CancellationToken cancellationToken = default);
}

/// <summary>A workflow instance as stored, with its state readable as JSON or as its type.</summary>
public sealed class WorkflowSnapshot
{
    private readonly JsonSerializerOptions _json;

    internal WorkflowSnapshot(WorkflowInstance instance, JsonSerializerOptions json)
    {
        Instance = instance;
        _json = json;
    }

    /// <summary>The stored instance: name, id, correlation value, version, status, state JSON, history, times.</summary>
    public WorkflowInstance Instance { get; }

    /// <summary>The instance id.</summary>
    public string Id => Instance.Id;

    /// <summary>Running, completed or failed.</summary>
    public WorkflowStatus Status => Instance.Status;

    /// <summary>Why it failed, when it did.</summary>
    public string? FailureReason => Instance.FailureReason;

    /// <summary>The state as JSON.</summary>
    public string StateJson => Instance.StateJson;

    /// <summary>The messages it handled, oldest first.</summary>
    public IReadOnlyList<WorkflowHistoryEntry> History => Instance.History;

    /// <summary>The state as <typeparamref name="TState"/>, read with the bus's JSON settings.</summary>
    public TState GetState<TState>()
        where TState : class =>
        JsonSerializer.Deserialize<TState>(Instance.StateJson, _json)
            ?? throw new InvalidOperationException($"Workflow instance '{Instance.Id}' has null state.");
}

/// <summary>The workflows registered on an endpoint, by type.</summary>
internal sealed class WorkflowRegistry
{
    private readonly Dictionary<Type, string> _names = [];

    public void Add(Type workflowType, string name)
    {
        if (_names.Values.Contains(name, StringComparer.Ordinal) && !_names.ContainsKey(workflowType))
        {
            throw new BusConfigurationException($"Two workflows are registered under the name '{name}'.");
        }

        _names[workflowType] = name;
    }

    public bool Contains(Type workflowType) => _names.ContainsKey(workflowType);

    /// <summary>Lets one message at a time work on a given instance in this process (keyed by workflow name and
    /// <see cref="CorrelatedInstanceKey"/> or <see cref="InstanceKeyOf"/>).</summary>
    public Steps.StepGate InstanceGate { get; } = new();

    /// <summary>The instance gate's key of an instance that has correlation value <paramref name="correlation"/>,
    /// whether a message finds it by that value or by the instance's id.</summary>
    public static string CorrelatedInstanceKey(string correlation) => "c:" + correlation;

    /// <summary>The instance gate's key of an instance without a correlation value.</summary>
    public static string InstanceKeyOf(string workflowId) => "i:" + workflowId;

    /// <summary>Whether any workflow is registered.</summary>
    public bool Any => _names.Count > 0;

    public string NameOf(Type workflowType) => _names.TryGetValue(workflowType, out var name)
        ? name
        : throw new InvalidOperationException($"'{workflowType.FullName}' is not a registered workflow; call bus.AddWorkflow<{workflowType.Name}>().");
}

/// <summary>Reads instances from the <see cref="IWorkflowStore"/>.</summary>
internal sealed class WorkflowStatusQuery(IWorkflowStore store, WorkflowRegistry registry, Hosting.BusConfiguration config) : IWorkflowStatusQuery
{
    private readonly JsonSerializerOptions _json = new(config.Json);

    public Task<WorkflowSnapshot?> GetAsync<TWorkflow>(string id, CancellationToken cancellationToken = default)
        where TWorkflow : class => GetAsync(registry.NameOf(typeof(TWorkflow)), id, cancellationToken);

    public Task<WorkflowSnapshot?> FindAsync<TWorkflow>(string correlationValue, CancellationToken cancellationToken = default)
        where TWorkflow : class => FindAsync(registry.NameOf(typeof(TWorkflow)), correlationValue, cancellationToken);

    public async Task<WorkflowSnapshot?> GetAsync(string workflowName, string id, CancellationToken cancellationToken = default) =>
        Wrap(await store.GetAsync(workflowName, id, cancellationToken).ConfigureAwait(false));

    public async Task<WorkflowSnapshot?> FindAsync(string workflowName, string correlationValue, CancellationToken cancellationToken = default) =>
        Wrap(await store.FindAsync(workflowName, correlationValue, cancellationToken).ConfigureAwait(false));

    public Task<WorkflowPage> ListAsync(WorkflowListQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        return store.ListAsync(query, cancellationToken);
    }

    private WorkflowSnapshot? Wrap(WorkflowInstance? instance) => instance is null ? null : new WorkflowSnapshot(instance, _json);
}

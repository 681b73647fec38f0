namespace Bus.Workflows;

/// <summary>A workflow store in process memory that enforces versions like a durable one.</summary>
public sealed class InMemoryWorkflowStore : IWorkflowStore
{
    private readonly object _gate = new();
    private readonly Dictionary<(string Workflow, string Id), WorkflowInstance> _byId = [];
    private readonly Dictionary<(string Workflow, string Correlation), string> _byCorrelation = [];

    /// <inheritdoc />
    public Task<WorkflowInstance?> GetAsync(string workflowName, string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(workflowName);
        ArgumentException.ThrowIfNullOrEmpty(id);
        lock (_gate)
        {
            return Task.FromResult(_byId.GetValueOrDefault((workflowName, id)));
        }
    }

    /// <inheritdoc />
    public Task<WorkflowInstance?> FindAsync(string workflowName, string correlationValue, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(workflowName);
        ArgumentNullException.ThrowIfNull(correlationValue);
        lock (_gate)
        {
            return Task.FromResult(_byCorrelation.TryGetValue((workflowName, correlationValue), out var id)
                ? _byId.GetValueOrDefault((workflowName, id))
                : null);
        }
    }

    /// <inheritdoc />
    public Task InsertAsync(WorkflowInstance instance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        lock (_gate)
        {
            if (_byId.ContainsKey((instance.WorkflowName, instance.Id)))
            {
                throw new WorkflowConcurrencyException($"Workflow '{instance.WorkflowName}' instance '{instance.Id}' already exists.");
            }

            if (instance.CorrelationValue is { } correlation)
            {
                if (_byCorrelation.ContainsKey((instance.WorkflowName, correlation)))
                {
                    throw new WorkflowConcurrencyException(
                        $"Workflow '{instance.WorkflowName}' already has an instance correlated on '{correlation}'.");
                }

                _byCorrelation[(instance.WorkflowName, correlation)] = instance.Id;
            }

            _byId[(instance.WorkflowName, instance.Id)] = instance with { Version = 1 };
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task UpdateAsync(WorkflowInstance instance, long expectedVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(instance);
        lock (_gate)
        {
            if (!_byId.TryGetValue((instance.WorkflowName, instance.Id), out var stored) || stored.Version != expectedVersion)
            {
                throw new WorkflowConcurrencyException(
                    $"Workflow '{instance.WorkflowName}' instance '{instance.Id}' changed since it was read (expected version {expectedVersion}).");
            }

            if (instance.CorrelationValue != stored.CorrelationValue)
            {
                if (instance.CorrelationValue is { } next && _byCorrelation.TryGetValue((instance.WorkflowName, next), out var holder) && holder != instance.Id)
                {
                    throw new WorkflowConcurrencyException(
                        $"Workflow '{instance.WorkflowName}' already has an instance correlated on '{next}'.");
                }

                if (stored.CorrelationValue is { } previous)
                {
                    _byCorrelation.Remove((instance.WorkflowName, previous));
                }

                if (instance.CorrelationValue is { } value)
                {
                    _byCorrelation[(instance.WorkflowName, value)] = instance.Id;
                }
            }

            _byId[(instance.WorkflowName, instance.Id)] = instance with { Version = expectedVersion + 1 };
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<WorkflowPage> ListAsync(WorkflowListQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        lock (_gate)
        {
            return Task.FromResult(WorkflowPage.Of(_byId.Values, query));
        }
    }
}

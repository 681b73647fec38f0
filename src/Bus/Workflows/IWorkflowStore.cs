namespace Bus.Workflows;

/// <summary>Persists workflow instances with optimistic concurrency.</summary>
public interface IWorkflowStore
{
    /// <summary>The instance with this id, or null.</summary>
    Task<WorkflowInstance?> GetAsync(string workflowName, string id, CancellationToken cancellationToken);

    /// <summary>The instance of <paramref name="workflowName"/> with this correlation value, or null.</summary>
    Task<WorkflowInstance?> FindAsync(string workflowName, string correlationValue, CancellationToken cancellationToken);

    /// <summary>Stores a new instance (its <see cref="WorkflowInstance.Version"/> is 1).</summary>
    /// <exception cref="WorkflowConcurrencyException">An instance with the same id, or the same workflow name and
    /// correlation value, exists.</exception>
    Task InsertAsync(WorkflowInstance instance, CancellationToken cancellationToken);

    /// <summary>Replaces an instance whose stored version is <paramref name="expectedVersion"/>; the new one carries
    /// <c>expectedVersion + 1</c>. The correlation value may change and must stay unique per workflow.</summary>
    /// <exception cref="WorkflowConcurrencyException">The stored version differs, the instance is gone, or another
    /// instance holds the new correlation value.</exception>
    Task UpdateAsync(WorkflowInstance instance, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>A page of the instances of <see cref="WorkflowListQuery.WorkflowName"/>, optionally of one status, newest
    /// first or by id; pass the page's continuation token back for the next one. For operators (<c>bus workflows
    /// list</c>, the dashboard), not for the message path.</summary>
    /// <exception cref="ArgumentException">The query is not valid (see <see cref="WorkflowListQuery.Validate"/>).</exception>
    Task<WorkflowPage> ListAsync(WorkflowListQuery query, CancellationToken cancellationToken);
}

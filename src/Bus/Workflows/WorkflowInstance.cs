namespace Bus.Workflows;

/// <summary>Where a workflow instance stands.</summary>
public enum WorkflowStatus
{
    /// <summary>Started and waiting for messages.</summary>
    Running,

    /// <summary>Finished successfully.</summary>
    Completed,

    /// <summary>Gave up; the reason is in <see cref="WorkflowInstance.FailureReason"/>.</summary>
    Failed,
}

/// <summary>One message a workflow instance handled.</summary>
/// <param name="At">When it was handled.</param>
/// <param name="MessageType">The message's wire name.</param>
/// <param name="MessageId">The message id.</param>
/// <param name="Note">What the handler did, when it said (e.g. "completed", "timeout requested").</param>
public sealed record WorkflowHistoryEntry(DateTimeOffset At, string MessageType, string MessageId, string? Note = null);

/// <summary>A persisted workflow instance: its state as JSON, version, status and history.</summary>
/// <param name="WorkflowName">The workflow's registered name.</param>
/// <param name="Id">The instance id; rides as the sticky <see cref="MessageHeaders.WorkflowId"/> header.</param>
/// <param name="CorrelationValue">The value messages are matched on, or null when the workflow correlates by id only.</param>
/// <param name="Version">Incremented on every save; saves check it (optimistic concurrency).</param>
/// <param name="Status">Running, completed or failed.</param>
/// <param name="StateJson">The state record as JSON.</param>
/// <param name="History">Messages handled, oldest first.</param>
/// <param name="CreatedAt">When it started.</param>
/// <param name="UpdatedAt">When it was last saved.</param>
/// <param name="FailureReason">Why it failed, when it did.</param>
public sealed record WorkflowInstance(
    string WorkflowName,
    string Id,
    string? CorrelationValue,
    long Version,
    WorkflowStatus Status,
    string StateJson,
    IReadOnlyList<WorkflowHistoryEntry> History,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    string? FailureReason = null);

/// <summary>A save lost a race: the instance changed (or was created) since it was read. The message is retried.</summary>
public sealed class WorkflowConcurrencyException : Exception
{
    /// <summary>Creates the exception.</summary>
    public WorkflowConcurrencyException(string message)
        : base(message)
    {
    }
}

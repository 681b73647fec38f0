using Bus.SystemMessages;

namespace Bus.Workflows.ContainerTasks;

/// <summary>
/// A change of a container task as a <see cref="ContainerTaskWorkflow{TStart, TTaskEvent}"/> reads it: a system message
/// such as ECS's "Task State Change" (<c>Bus.Aws.Ecs.EcsTaskStateChange</c>). Delivery is at-least-once and unordered:
/// <see cref="Version"/> orders the changes of one task and <see cref="ISystemMessageIdentity.SystemMessageId"/> names
/// each event.
/// </summary>
public interface IContainerTaskEvent : ISystemMessageIdentity
{
    /// <summary>The task's id (on ECS the task ARN), as <see cref="IContainerTaskLauncher.LaunchAsync"/> returned it.</summary>
    string TaskId { get; }

    /// <summary>The <see cref="ContainerTaskRequest.StartedBy"/> tag of the launch: the workflow's correlation value.</summary>
    string? StartedBy { get; }

    /// <summary>Increases with every change of the task.</summary>
    long Version { get; }

    /// <summary>The task's last status (e.g. PROVISIONING, RUNNING, STOPPED).</summary>
    string? LastStatus { get; }

    /// <summary>Whether the task has stopped.</summary>
    bool IsStopped { get; }

    /// <summary>Why the task stopped, as a code (on ECS: TaskFailedToStart, EssentialContainerExited, UserInitiated,
    /// ServiceSchedulerInitiated, SpotInterruption, TerminationNotice).</summary>
    string? StopCode { get; }

    /// <summary>Why the task stopped, in words.</summary>
    string? StoppedReason { get; }

    /// <summary>When the task started running, once it did.</summary>
    DateTimeOffset? StartedAt { get; }

    /// <summary>When the task stopped, once it did.</summary>
    DateTimeOffset? StoppedAt { get; }

    /// <summary>The task's containers in the order the event lists them (not necessarily the essential one first).</summary>
    IReadOnlyList<ContainerState> Containers { get; }
}

/// <summary>One container of a task in a <see cref="IContainerTaskEvent"/>.</summary>
/// <param name="Name">The container's name in the task definition.</param>
/// <param name="ExitCode">Its exit code; null while it runs, or when it never ran or was killed without one.</param>
/// <param name="Reason">Why it stopped, when the platform says (e.g. "OutOfMemoryError: ...").</param>
public sealed record ContainerState(string Name, int? ExitCode, string? Reason);

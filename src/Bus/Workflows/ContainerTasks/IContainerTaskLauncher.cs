namespace Bus.Workflows.ContainerTasks;

/// <summary>
/// Starts a container task (on ECS: RunTask, with <c>Bus.Aws</c>'s <c>EcsTaskLauncher</c>) and returns at once. The
/// task's changes are reported later as system messages that implement <see cref="IContainerTaskEvent"/> (on ECS the
/// "Task State Change" event, <c>Bus.Aws.Ecs.EcsTaskStateChange</c>) carrying <see cref="ContainerTaskRequest.StartedBy"/>;
/// a <see cref="ContainerTaskWorkflow{TStart, TTaskEvent}"/> follows them.
/// </summary>
public interface IContainerTaskLauncher
{
    /// <summary>Starts the task and returns its id (on ECS the task ARN).</summary>
    /// <exception cref="ContainerTaskLaunchException">The platform refused to start the task (on ECS: RunTask returned
    /// <c>failures</c>); a container-task workflow records it as a run that failed to start.</exception>
    Task<string> LaunchAsync(ContainerTaskRequest request, CancellationToken cancellationToken);
}

/// <summary>What to run: the shape of an ECS RunTask call with one container override.</summary>
public sealed record ContainerTaskRequest
{
    /// <summary>The task definition (family, family:revision or ARN) or, for local launchers, the image or program.</summary>
    public required string TaskDefinition { get; init; }

    /// <summary>The tag that comes back as <c>detail.startedBy</c> on the task's events: the correlation value
    /// (ECS allows up to 36 letters, digits, '-' and '_').</summary>
    public required string StartedBy { get; init; }

    /// <summary>The container to override; null for the task definition's first (essential) container.</summary>
    public string? ContainerName { get; init; }

    /// <summary>The command override; empty keeps the image's command. Local launchers run <c>Command[0]</c> with the
    /// rest as arguments.</summary>
    public IReadOnlyList<string> Command { get; init; } = [];

    /// <summary>Environment variables added for the container.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>The cluster; null for the launcher's default.</summary>
    public string? Cluster { get; init; }

    /// <summary>Makes the launch idempotent: a launcher given the same token twice starts one task (ECS RunTask's
    /// <c>clientToken</c>, up to 64 ASCII characters, honoured for a few hours). A container-task workflow sets it to
    /// its instance id and run number, so two processes launching the same run start one task.</summary>
    public string? IdempotencyToken { get; init; }
}

/// <summary>The platform refused to start a container task (e.g. ECS RunTask <c>failures</c>: no capacity, a missing
/// task definition). Thrown by <see cref="IContainerTaskLauncher.LaunchAsync"/>.</summary>
public sealed class ContainerTaskLaunchException : Exception
{
    /// <summary>Creates the exception with the platform's reason.</summary>
    public ContainerTaskLaunchException(string reason)
        : base(reason)
    {
    }

    /// <summary>Creates the exception with the platform's reason and the error behind it.</summary>
    public ContainerTaskLaunchException(string reason, Exception innerException)
        : base(reason, innerException)
    {
    }
}

namespace Bus.Workflows.ContainerTasks;

/// <summary>
/// Starts a container task (on ECS: RunTask) and returns at once. The task's end is reported later as a system
/// message, an ECS "Task State Change" event (<see cref="SystemMessages.EcsTaskStateChange"/>) whose
/// <c>detail.startedBy</c> is <see cref="ContainerTaskRequest.StartedBy"/>: map it with
/// <c>bus.SystemMessages.MapEcsTaskStateChange()</c> and correlate a workflow on it.
/// </summary>
public interface IContainerTaskLauncher
{
    /// <summary>Starts the task and returns its id (on ECS the task ARN).</summary>
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
}

using System.Text.Json.Serialization;
using Bus.Aws.EventBridge;
using Bus.Workflows.ContainerTasks;

namespace Bus.Aws.Ecs;

/// <summary>
/// An ECS "Task State Change" event, e.g. when a container task stops. Delivery is at-least-once and unordered:
/// use <see cref="EcsTaskDetail.Version"/> to ignore stale and duplicate events (a
/// <see cref="ContainerTaskWorkflow{TStart, TTaskEvent}"/> does). Map it with
/// <c>bus.SystemMessages.MapEcsTaskStateChange()</c>.
/// </summary>
[MessageName("aws.ecs.task-state-change")]
public sealed record EcsTaskStateChange : EventBridgeEvent<EcsTaskDetail>, IContainerTaskEvent
{
    /// <summary>The EventBridge source.</summary>
    public const string EventSource = "aws.ecs";

    /// <summary>The EventBridge detail-type.</summary>
    public const string EventDetailType = "ECS Task State Change";

    string IContainerTaskEvent.TaskId => Detail.TaskArn;

    string? IContainerTaskEvent.StartedBy => Detail.StartedBy;

    long IContainerTaskEvent.Version => Detail.Version;

    string? IContainerTaskEvent.LastStatus => Detail.LastStatus;

    bool IContainerTaskEvent.IsStopped => Detail.IsStopped;

    string? IContainerTaskEvent.StopCode => Detail.StopCode;

    string? IContainerTaskEvent.StoppedReason => Detail.StoppedReason;

    DateTimeOffset? IContainerTaskEvent.StartedAt => Detail.StartedAt;

    DateTimeOffset? IContainerTaskEvent.StoppedAt => Detail.StoppedAt;

    IReadOnlyList<ContainerState> IContainerTaskEvent.Containers =>
        Detail.Containers.Select(c => new ContainerState(c.Name, c.ExitCode, c.Reason)).ToList();
}

/// <summary>The detail of an ECS task state change.</summary>
public sealed record EcsTaskDetail
{
    /// <summary>The cluster ARN.</summary>
    [JsonPropertyName("clusterArn")]
    public string? ClusterArn { get; init; }

    /// <summary>The task ARN.</summary>
    [JsonPropertyName("taskArn")]
    public required string TaskArn { get; init; }

    /// <summary>The task definition ARN.</summary>
    [JsonPropertyName("taskDefinitionArn")]
    public string? TaskDefinitionArn { get; init; }

    /// <summary>The task group, e.g. "family:encode-video".</summary>
    [JsonPropertyName("group")]
    public string? Group { get; init; }

    /// <summary>FARGATE or EC2.</summary>
    [JsonPropertyName("launchType")]
    public string? LaunchType { get; init; }

    /// <summary>The startedBy tag given to RunTask (a good correlation value).</summary>
    [JsonPropertyName("startedBy")]
    public string? StartedBy { get; init; }

    /// <summary>E.g. PROVISIONING, RUNNING, STOPPED.</summary>
    [JsonPropertyName("lastStatus")]
    public string? LastStatus { get; init; }

    /// <summary>The desired status.</summary>
    [JsonPropertyName("desiredStatus")]
    public string? DesiredStatus { get; init; }

    /// <summary>TaskFailedToStart, EssentialContainerExited, UserInitiated, ServiceSchedulerInitiated, SpotInterruption or TerminationNotice.</summary>
    [JsonPropertyName("stopCode")]
    public string? StopCode { get; init; }

    /// <summary>Why the task stopped.</summary>
    [JsonPropertyName("stoppedReason")]
    public string? StoppedReason { get; init; }

    /// <summary>When the task was created.</summary>
    [JsonPropertyName("createdAt")]
    public DateTimeOffset? CreatedAt { get; init; }

    /// <summary>When the task started.</summary>
    [JsonPropertyName("startedAt")]
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When the task began stopping.</summary>
    [JsonPropertyName("stoppingAt")]
    public DateTimeOffset? StoppingAt { get; init; }

    /// <summary>When the task stopped.</summary>
    [JsonPropertyName("stoppedAt")]
    public DateTimeOffset? StoppedAt { get; init; }

    /// <summary>Increases with every change of the task: orders events and exposes duplicates.</summary>
    [JsonPropertyName("version")]
    public long Version { get; init; }

    /// <summary>The task's containers with their exit codes.</summary>
    [JsonPropertyName("containers")]
    public IReadOnlyList<EcsContainer> Containers { get; init; } = [];

    /// <summary>Whether the task has stopped.</summary>
    [JsonIgnore]
    public bool IsStopped => string.Equals(LastStatus, "STOPPED", StringComparison.OrdinalIgnoreCase);
}

/// <summary>A container of an ECS task.</summary>
public sealed record EcsContainer
{
    /// <summary>The container ARN.</summary>
    [JsonPropertyName("containerArn")]
    public string? ContainerArn { get; init; }

    /// <summary>The container name.</summary>
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    /// <summary>The image.</summary>
    [JsonPropertyName("image")]
    public string? Image { get; init; }

    /// <summary>The container's status.</summary>
    [JsonPropertyName("lastStatus")]
    public string? LastStatus { get; init; }

    /// <summary>The exit code, once the container has exited.</summary>
    [JsonPropertyName("exitCode")]
    public int? ExitCode { get; init; }

    /// <summary>Why it stopped, e.g. "OutOfMemoryError: ...".</summary>
    [JsonPropertyName("reason")]
    public string? Reason { get; init; }
}

using System.Text.Json.Serialization;

namespace Bus.Workflows.ContainerTasks;

/// <summary>The state of a <see cref="ContainerTaskWorkflow{TStart, TTaskEvent}"/> instance: the message that started
/// it and every run of the task. Read it through <see cref="IWorkflowStatusQuery"/>:
/// <c>snapshot.GetState&lt;ContainerTaskState&lt;TStart&gt;&gt;()</c>.</summary>
/// <typeparam name="TStart">The starting message.</typeparam>
public sealed class ContainerTaskState<TStart>
    where TStart : class
{
    /// <summary>The correlation value: the <see cref="ContainerTaskRequest.StartedBy"/> tag of every run.</summary>
    public string? Key { get; set; }

    /// <summary>The message that started the workflow; each run's request is made from it.</summary>
    public TStart? Start { get; set; }

    /// <summary>Every run, oldest first.</summary>
    public List<ContainerTaskRun> Runs { get; init; } = [];

    /// <summary>When the next run is due, while the workflow waits to rerun.</summary>
    public DateTimeOffset? NextRunAt { get; set; }

    /// <summary>The run in progress or the last one.</summary>
    [JsonIgnore]
    public ContainerTaskRun? LastRun => Runs.Count == 0 ? null : Runs[^1];
}

/// <summary>One run of a container task.</summary>
public sealed class ContainerTaskRun
{
    /// <summary>1 for the first run.</summary>
    public int Number { get; set; }

    /// <summary>The task id (on ECS the task ARN); null when the launch was refused.</summary>
    public string? TaskId { get; set; }

    /// <summary>Running until the task stops; then how it ended.</summary>
    public ContainerTaskRunResult Result { get; set; }

    /// <summary>The task's last status as reported (e.g. PROVISIONING, RUNNING, STOPPED).</summary>
    public string? LastStatus { get; set; }

    /// <summary>The highest event version applied; older and equal versions are ignored.</summary>
    public long LastVersion { get; set; }

    /// <summary>The deciding container's exit code, once it exited with one.</summary>
    public int? ExitCode { get; set; }

    /// <summary>The task's stop code, once stopped.</summary>
    public string? StopCode { get; set; }

    /// <summary>Why it stopped or failed: the container's reason, else the task's, else the launcher's.</summary>
    public string? Reason { get; set; }

    /// <summary>When the launch was requested.</summary>
    public DateTimeOffset LaunchedAt { get; set; }

    /// <summary>When the task started running, as reported.</summary>
    public DateTimeOffset? StartedAt { get; set; }

    /// <summary>When the task stopped, as reported (or when the launch was refused).</summary>
    public DateTimeOffset? StoppedAt { get; set; }
}

/// <summary>How a run of a container task ended.</summary>
public enum ContainerTaskRunResult
{
    /// <summary>Launched and not yet stopped.</summary>
    Running,

    /// <summary>The deciding container exited with 0.</summary>
    Succeeded,

    /// <summary>The deciding container exited with another code, or without one.</summary>
    Failed,

    /// <summary>The task never started (the launch was refused, or a failed-to-start stop code).</summary>
    FailedToStart,
}

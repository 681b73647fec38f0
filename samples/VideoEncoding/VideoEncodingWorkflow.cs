using System.Globalization;
using Bus.Samples;
using Bus.SystemMessages;
using Bus.Workflows;
using Bus.Workflows.ContainerTasks;

namespace VideoEncoding;

/// <summary>The state of one video's encoding, kept in the workflow store between messages.</summary>
public sealed class VideoEncodingState
{
    public string? VideoId { get; set; }

    public string FileName { get; set; } = string.Empty;

    /// <summary>Encoder runs launched so far.</summary>
    public int Runs { get; set; }

    /// <summary>The task of the current run; events of older runs are ignored.</summary>
    public string? CurrentTaskArn { get; set; }

    /// <summary>Every task launched, so an event that overtakes the save of its launch is retried, not ignored.</summary>
    public List<string> LaunchedTasks { get; init; } = [];

    /// <summary>The highest ECS event version seen for the current task (events are at-least-once and unordered).</summary>
    public long LastEventVersion { get; set; }

    public List<int> ExitCodes { get; init; } = [];
}

/// <summary>
/// The container-task pattern: <see cref="EncodeVideo"/> launches an encoder task; its end arrives later as an ECS
/// "Task State Change" system message whose <c>startedBy</c> is the video id; a failed run is rerun after a pause,
/// up to <see cref="MaxRuns"/>; then <see cref="VideoEncoded"/> or <see cref="VideoEncodingFailed"/> is published.
/// </summary>
public sealed class VideoEncodingWorkflow(IContainerTaskLauncher launcher, Timeline timeline) : Workflow<VideoEncodingState>
{
    /// <summary>Runs of the encoder before giving up.</summary>
    public const int MaxRuns = 3;

    /// <summary>The pause before a rerun.</summary>
    public static readonly TimeSpan RerunAfter = TimeSpan.FromSeconds(1);

    protected override void Configure(WorkflowConfigurator<VideoEncodingState> workflow) => workflow
        .CorrelateBy(state => state.VideoId)
        .StartedBy<EncodeVideo>(message => message.VideoId, StartAsync)
        .Handles<EcsTaskStateChange>(change => change.Detail.StartedBy, TaskChangedAsync)
        .Handles<RerunEncoder>(RerunAsync)

        // The task may stop before the first save of the instance that launched it: retry that event, do not drop it.
        .WhenUnmatched<EcsTaskStateChange>(UnmatchedMessagePolicy.Retry);

    private Task StartAsync(EncodeVideo message, WorkflowContext<VideoEncodingState> context)
    {
        if (!context.IsNew)
        {
            return Task.CompletedTask;   // a duplicate request for a video already being encoded
        }

        context.State.FileName = message.FileName;
        return LaunchAsync(context);
    }

    private Task RerunAsync(RerunEncoder message, WorkflowContext<VideoEncodingState> context) => LaunchAsync(context);

    private async Task TaskChangedAsync(EcsTaskStateChange change, WorkflowContext<VideoEncodingState> context)
    {
        var state = context.State;
        var task = change.Detail;
        if (!state.LaunchedTasks.Contains(task.TaskArn))
        {
            throw new InvalidOperationException($"Task {task.TaskArn} stopped before its launch was saved; retrying the event.");
        }

        if (task.TaskArn != state.CurrentTaskArn || task.Version <= state.LastEventVersion)
        {
            context.Discard();   // an older run's event, or a duplicate
            return;
        }

        state.LastEventVersion = task.Version;
        if (!task.IsStopped)
        {
            return;
        }

        var exitCode = task.Containers.FirstOrDefault()?.ExitCode ?? -1;
        state.ExitCodes.Add(exitCode);
        timeline.Add("workflow", $"{state.VideoId}: task …{Short(task.TaskArn)} stopped, exit code {exitCode} (run {state.Runs} of {MaxRuns})");
        if (exitCode == 0)
        {
            await context.PublishAsync(new VideoEncoded(state.VideoId!, state.Runs));
            context.Complete();
        }
        else if (state.Runs < MaxRuns)
        {
            timeline.Add("workflow", $"{state.VideoId}: rerunning the encoder in {RerunAfter.TotalSeconds:0} s");
            await context.RequestTimeoutAsync(RerunAfter, new RerunEncoder(state.VideoId!));
        }
        else
        {
            var reason = string.Create(CultureInfo.InvariantCulture, $"the encoder failed {MaxRuns} times (last exit code {exitCode})");
            await context.PublishAsync(new VideoEncodingFailed(state.VideoId!, state.Runs, reason));
            context.Fail(reason);
        }
    }

    private async Task LaunchAsync(WorkflowContext<VideoEncodingState> context)
    {
        var state = context.State;
        var run = state.Runs + 1;

        // A memoised step: if saving the state fails and this message is retried, the task is not launched twice.
        var taskArn = await context.Message.Steps.RunAsync($"launch-run-{run}", cancellationToken => launcher.LaunchAsync(
            new ContainerTaskRequest
            {
                TaskDefinition = "video-encoder",
                StartedBy = state.VideoId!,
                ContainerName = "encoder",
                Command = Encoder.Command(state.FileName),
                Environment = new Dictionary<string, string> { [Encoder.RunVariable] = run.ToString(CultureInfo.InvariantCulture) },
            },
            cancellationToken));
        state.Runs = run;
        state.CurrentTaskArn = taskArn;
        state.LaunchedTasks.Add(taskArn);
        state.LastEventVersion = 0;
        timeline.Add("workflow", $"{state.VideoId}: run {run} of {MaxRuns}, launched encoder task …{Short(taskArn)}");
    }

    private static string Short(string taskArn) => taskArn[^6..];
}

using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Serialization;
using System.Text.Json;
using Bus.Aws;
using Bus.Aws.Ecs;
using Bus.Workflows;
using Bus.Workflows.ContainerTasks;

namespace Bus.Tests.Workflows;

public sealed record EncodeVideo(string VideoId, string Script = "exit 0") : ICommand;

public sealed record RetryEncoding(string VideoId) : ICommand;

public sealed record VideoEncoded(string VideoId, int Attempts) : IEvent;

public sealed record VideoEncodingFailed(string VideoId, int Attempts, string Reason) : IEvent;

public sealed class VideoEncodingState
{
    public string? VideoId { get; set; }

    public string Script { get; set; } = "exit 0";

    public int Attempt { get; set; }

    public string? CurrentTaskArn { get; set; }

    public List<string> TaskArns { get; init; } = [];

    public long LastEventVersion { get; set; }

    public List<int> ExitCodes { get; init; } = [];
}

/// <summary>Runs an encoder container per video; reruns a failed run with back-off, up to a bound.</summary>
public sealed class VideoEncodingWorkflow(IContainerTaskLauncher launcher) : Workflow<VideoEncodingState>
{
    public const int MaxAttempts = 3;
    public static readonly TimeSpan FirstBackOff = TimeSpan.FromMinutes(1);

    protected override void Configure(WorkflowConfigurator<VideoEncodingState> workflow) => workflow
        .CorrelateBy(s => s.VideoId)
        .StartedBy<EncodeVideo>(m => m.VideoId, StartAsync)
        .Handles<EcsTaskStateChange>(e => e.Detail.StartedBy, TaskChangedAsync)
        .Handles<RetryEncoding>(RetryAsync)

        // A task can stop before the save that records its launch: such an event is retried, not lost.
        .WhenUnmatched<EcsTaskStateChange>(UnmatchedMessagePolicy.Retry);

    private Task StartAsync(EncodeVideo message, WorkflowContext<VideoEncodingState> context)
    {
        if (!context.IsNew)
        {
            return Task.CompletedTask;
        }

        context.State.Script = message.Script;
        return LaunchAsync(context);
    }

    private Task RetryAsync(RetryEncoding message, WorkflowContext<VideoEncodingState> context) => LaunchAsync(context);

    private async Task TaskChangedAsync(EcsTaskStateChange change, WorkflowContext<VideoEncodingState> context)
    {
        var state = context.State;
        var detail = change.Detail;
        if (!state.TaskArns.Contains(detail.TaskArn))
        {
            throw new InvalidOperationException($"Task {detail.TaskArn} is not recorded yet; retry.");
        }

        // Events are at-least-once and unordered: only a newer version of the current task counts.
        if (detail.TaskArn != state.CurrentTaskArn || detail.Version <= state.LastEventVersion)
        {
            context.Discard();
            return;
        }

        state.LastEventVersion = detail.Version;
        if (!detail.IsStopped)
        {
            return;
        }

        var exitCode = detail.Containers.FirstOrDefault()?.ExitCode ?? -1;
        state.ExitCodes.Add(exitCode);
        if (exitCode == 0)
        {
            await context.PublishAsync(new VideoEncoded(state.VideoId!, state.Attempt));
            context.Complete();
        }
        else if (state.Attempt < MaxAttempts)
        {
            await context.RequestTimeoutAsync(FirstBackOff * Math.Pow(2, state.Attempt - 1), new RetryEncoding(state.VideoId!));
        }
        else
        {
            var reason = string.Create(CultureInfo.InvariantCulture, $"encoder exited with {exitCode} on attempt {state.Attempt} of {MaxAttempts}");
            await context.PublishAsync(new VideoEncodingFailed(state.VideoId!, state.Attempt, reason));
            context.Fail(reason);
        }
    }

    private async Task LaunchAsync(WorkflowContext<VideoEncodingState> context)
    {
        var state = context.State;
        var attempt = state.Attempt + 1;

        // Memoised per message: a retry of this message (e.g. after a save conflict) does not launch again.
        var taskArn = await context.Message.Steps.RunAsync($"launch-{attempt}", ct => launcher.LaunchAsync(new ContainerTaskRequest
        {
            TaskDefinition = "encode-video",
            StartedBy = state.VideoId!,
            ContainerName = "encoder",
            Command = ["sh", "-c", state.Script],
            Environment = new Dictionary<string, string> { ["ATTEMPT"] = attempt.ToString(CultureInfo.InvariantCulture) },
        }, ct));
        state.Attempt = attempt;
        state.CurrentTaskArn = taskArn;
        state.TaskArns.Add(taskArn);
        state.LastEventVersion = 0;
    }
}

/// <summary>A launcher whose tasks end when the test says, by delivering an ECS event built by <see cref="Event"/>.</summary>
public sealed class ScriptedTaskLauncher : IContainerTaskLauncher
{
    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
    private readonly ConcurrentQueue<(ContainerTaskRequest Request, string TaskArn)> _launched = new();
    private int _count;

    public IReadOnlyList<(ContainerTaskRequest Request, string TaskArn)> Launched => _launched.ToArray();

    public Task<string> LaunchAsync(ContainerTaskRequest request, CancellationToken cancellationToken)
    {
        var arn = $"arn:aws:ecs:eu-west-1:111122223333:task/encoding/scripted-{Interlocked.Increment(ref _count)}";
        _launched.Enqueue((request, arn));
        return Task.FromResult(arn);
    }

    /// <summary>An EventBridge ECS task event as JSON, as it arrives on a queue (no bus headers).</summary>
    public static string Event(string taskArn, string startedBy, long version, string status = "STOPPED", int? exitCode = null, string? eventId = null) =>
        JsonSerializer.Serialize(new EcsTaskStateChange
        {
            Id = eventId ?? Guid.NewGuid().ToString(),
            DetailType = EcsTaskStateChange.EventDetailType,
            Source = EcsTaskStateChange.EventSource,
            Resources = [taskArn],
            Detail = new EcsTaskDetail
            {
                TaskArn = taskArn,
                StartedBy = startedBy,
                LastStatus = status,
                Version = version,
                Containers = [new EcsContainer { Name = "encoder", LastStatus = status, ExitCode = exitCode }],
            },
        }, Json);
}

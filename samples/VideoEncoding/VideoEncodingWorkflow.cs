using System.Globalization;
using Bus.Aws.Ecs;
using Bus.Workflows.ContainerTasks;

namespace VideoEncoding;

/// <summary>
/// The container-task pattern, declared: <see cref="EncodeVideo"/> launches an encoder task whose <c>startedBy</c> is
/// the video id; the library follows its ECS "Task State Change" events (ignoring late and duplicate ones), reruns a
/// failed run after a pause, up to 3 runs, records every run for the status query, and calls the outcome handlers.
/// </summary>
public sealed class VideoEncodingWorkflow : ContainerTaskWorkflow<EncodeVideo, EcsTaskStateChange>
{
    protected override void ConfigureTask(ContainerTaskDeclaration<EncodeVideo> task) => task
        .CorrelateBy(video => video.VideoId)
        .Launch((video, run) => new ContainerTaskRequest
        {
            TaskDefinition = "video-encoder",
            StartedBy = video.VideoId,
            ContainerName = "encoder",   // its exit decides, whatever sidecars the task has
            Command = Encoder.Command(video.FileName),
            Environment = new Dictionary<string, string> { [Encoder.RunVariable] = run.ToString(CultureInfo.InvariantCulture) },
        })
        .Rerun(policy =>
        {
            policy.MaxRuns = 3;
            policy.BackOff = TimeSpan.FromSeconds(1);
        })
        .OnSucceeded(outcome => outcome.PublishAsync(new VideoEncoded(outcome.Key, outcome.Runs.Count)))
        .OnFailed(outcome => outcome.PublishAsync(new VideoEncodingFailed(outcome.Key, outcome.Runs.Count, outcome.FailureReason!)));
}

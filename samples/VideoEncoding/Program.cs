// VideoEncoding: the container-task pattern, on SQLite by default (no server to install).
// EncodeVideo starts a workflow per video that launches an encoder "container" (here a local process, this program
// in encode mode) and returns at once. When the process exits, LocalProcessTaskLauncher sends an ECS
// "Task State Change" event to the endpoint's queue as a bare EventBridge payload, exactly as EventBridge would on
// AWS; Bus.Aws's system-message map turns it into EcsTaskStateChange and the library's container-task workflow reacts:
// exit 0 publishes VideoEncoded, a failure reruns the task after a pause, up to 3 runs, then VideoEncodingFailed.
// On AWS, register EcsTaskLauncher (services.AddEcsTaskLauncher) and the EventBridge rule (services.AddEcsTaskEventRule)
// instead of the local launcher.
//   dotnet run --project samples/VideoEncoding [-- --db data/video-encoding.db]
//   dotnet run --project samples/VideoEncoding -- --transport sqs --sqs-endpoint http://127.0.0.1:4566
using Bus;
using Bus.Aws;
using Bus.Hosting;
using Bus.Samples;
using Bus.Transports;
using Bus.Workflows;
using Bus.Workflows.ContainerTasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using VideoEncoding;

if (args is ["encode", .. var encodeArgs])
{
    return await Encoder.RunAsync(encodeArgs);
}

SampleOptions options;
try
{
    options = SampleOptions.Parse(args, defaultDatabase: "data/video-encoding.db");
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync(e.Message);
    return 2;
}

const string endpoint = "video-encoding";
var timeline = new Timeline();
var outcomes = new VideoOutcomes();
var builder = Host.CreateApplicationBuilder();
builder.Logging.ClearProviders().AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
builder.Services.AddSingleton(timeline).AddSingleton(outcomes);

// Exits are reported to this endpoint's own queue, where EventBridge would deliver ECS events on AWS.
builder.Services.AddSingleton<IContainerTaskLauncher>(sp => new LocalProcessTaskLauncher(sp.GetRequiredService<ITransport>(), endpoint));
builder.Services.AddBus(bus =>
{
    bus.EndpointName = endpoint;
    options.Apply(bus);
    bus.SystemMessages.MapEcsTaskStateChange();
    bus.AddWorkflow<VideoEncodingWorkflow>("media.video-encoding");
    bus.AddHandler<VideoOutcomeHandler>();
    bus.Retry.InitialDelay = TimeSpan.FromMilliseconds(500);
});

using var host = builder.Build();
timeline.Add("sample", options.Describe());
await host.StartAsync();

var run = Guid.NewGuid().ToString("N")[..6];   // fresh ids each run, so a kept database never mixes runs
EncodeVideo[] videos =
[
    new($"intro-{run}", "intro.mov"),       // encodes on the first run
    new($"keynote-{run}", "keynote.mov"),   // the first run exits 137 (out of memory), the rerun succeeds
    new($"corrupt-{run}", "corrupt.mov"),   // every run exits 65: given up after 3 runs
];
var bus = host.Services.GetRequiredService<IBus>();
foreach (var video in videos)
{
    timeline.Add("client", $"EncodeVideo {video.VideoId} ({video.FileName})");
    await bus.SendAsync(video);
}

try
{
    await outcomes.WaitForAsync(videos.Select(v => v.VideoId), TimeSpan.FromSeconds(90));
}
catch (TimeoutException)
{
    await Console.Error.WriteLineAsync("Not every video had an outcome within 90 seconds.");
    await host.StopAsync();
    return 1;
}

Console.WriteLine();
Console.WriteLine("Workflow status (IWorkflowStatusQuery):");
var query = host.Services.GetRequiredService<IWorkflowStatusQuery>();
foreach (var video in videos)
{
    var instance = await FinishedInstanceAsync(query, video.VideoId);
    var runs = instance.GetState<ContainerTaskState<EncodeVideo>>().Runs;
    Console.WriteLine($"  {video.VideoId,-16} {instance.Status,-10} runs {runs.Count}, exit codes [{string.Join(", ", runs.Select(r => r.ExitCode))}]"
        + (instance.FailureReason is { } reason ? $": {reason}" : string.Empty));
}

await host.StopAsync();
return 0;

// A workflow sends its events before it saves its state (so an event is never lost when the save fails), so a
// subscriber can hear the outcome a moment before the instance reads as Completed or Failed.
static async Task<WorkflowSnapshot> FinishedInstanceAsync(IWorkflowStatusQuery query, string videoId)
{
    for (var tries = 0; ; tries++)
    {
        var instance = await query.FindAsync<VideoEncodingWorkflow>(videoId);
        if (instance is not null && (instance.Status != WorkflowStatus.Running || tries >= 50))
        {
            return instance;
        }

        if (tries >= 50)
        {
            throw new InvalidOperationException($"No workflow instance for {videoId}.");
        }

        await Task.Delay(TimeSpan.FromMilliseconds(100));
    }
}

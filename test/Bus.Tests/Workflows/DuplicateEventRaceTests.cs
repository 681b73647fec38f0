using System.Collections.Concurrent;
using Bus.Aws;
using Bus.Aws.Ecs;
using Bus.Hosting;
using Bus.Testing;
using Bus.Workflows;
using Bus.Workflows.ContainerTasks;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Tests.Workflows;

public sealed record WatchTask(string JobId) : ICommand;

public sealed class WatchState
{
    public string? JobId { get; set; }

    public List<string> Launched { get; init; } = [];
}

/// <summary>Launches a task whenever a task event arrives: the side effect two copies of one event must not repeat.</summary>
public sealed class RelaunchOnEventWorkflow(IContainerTaskLauncher launcher) : Workflow<WatchState>
{
    protected override void Configure(WorkflowConfigurator<WatchState> workflow) => workflow
        .CorrelateBy(s => s.JobId)
        .StartedBy<WatchTask>(m => m.JobId, (_, _) => Task.CompletedTask)
        .Handles<EcsTaskStateChange>(e => e.Detail.StartedBy, async (_, context) =>
        {
            var arn = await context.Message.Steps.RunAsync("launch", ct => launcher.LaunchAsync(
                new ContainerTaskRequest { TaskDefinition = "job", StartedBy = context.State.JobId! }, ct));
            context.State.Launched.Add(arn);
        });
}

/// <summary>A launcher that takes time, as RunTask does: the first call waits until a second call arrives or a while
/// has passed, which gives a concurrent copy of the same event every chance to launch too.</summary>
public sealed class SlowLauncher : IContainerTaskLauncher
{
    private readonly ConcurrentQueue<ContainerTaskRequest> _calls = new();
    private readonly TaskCompletionSource _second = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<ContainerTaskRequest> Calls => _calls.ToArray();

    public async Task<string> LaunchAsync(ContainerTaskRequest request, CancellationToken cancellationToken)
    {
        _calls.Enqueue(request);
        if (_calls.Count >= 2)
        {
            _second.TrySetResult();
        }
        else
        {
            await Task.WhenAny(_second.Task, Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken));
        }

        return $"arn:aws:ecs:eu-west-1:111122223333:task/c/{_calls.Count}";
    }
}

public sealed class DuplicateEventRaceTests
{
    [Fact]
    public async Task Two_copies_of_one_event_handled_at_once_launch_exactly_once()
    {
        var launcher = new SlowLauncher();
        await using var harness = await BusTestHarness.StartAsync(
            bus =>
            {
                bus.SystemMessages.MapEcsTaskStateChange();
                bus.AddWorkflow<RelaunchOnEventWorkflow>();
            },
            services => services.AddSingleton<IContainerTaskLauncher>(launcher));
        await harness.SendAsync(new WatchTask("job-1"));

        // Same EventBridge event id; the harness gives each copy its own queue message id, as SQS would.
        var copy = ScriptedTaskLauncher.Event("arn:aws:ecs:eu-west-1:111122223333:task/c/0", "job-1", version: 3, exitCode: 1, eventId: "evt-dup");
        await Task.WhenAll(harness.DeliverRawAsync(copy), harness.DeliverRawAsync(copy));

        Assert.Single(launcher.Calls);
        var instance = (await harness.FindWorkflowAsync<RelaunchOnEventWorkflow>("job-1"))!;
        Assert.Single(instance.GetState<WatchState>().Launched);
        Assert.Single(instance.History, h => h.MessageId == "event:evt-dup");
        Assert.Empty(await harness.DeadLettersAsync());
    }
}

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

/// <summary>A launcher that takes as long as the test wants, as RunTask takes a while: every call waits until the
/// test releases it, which gives a concurrent copy of the same event every chance to launch too.</summary>
public sealed class HeldLauncher : IContainerTaskLauncher
{
    private readonly ConcurrentQueue<ContainerTaskRequest> _calls = new();
    private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _second = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<ContainerTaskRequest> Calls => _calls.ToArray();

    /// <summary>Completes when the first call has arrived.</summary>
    public Task FirstCall => _first.Task;

    /// <summary>Completes when a second call has arrived.</summary>
    public Task SecondCall => _second.Task;

    /// <summary>Lets every call, held or still to come, answer.</summary>
    public void Release() => _release.TrySetResult();

    public async Task<string> LaunchAsync(ContainerTaskRequest request, CancellationToken cancellationToken)
    {
        _calls.Enqueue(request);
        var number = _calls.Count;
        (number == 1 ? _first : _second).TrySetResult();
        await _release.Task.WaitAsync(cancellationToken);
        return $"arn:aws:ecs:eu-west-1:111122223333:task/c/{number}";
    }
}

public sealed class DuplicateEventRaceTests
{
    [Fact]
    public async Task Two_copies_of_one_event_handled_at_once_launch_exactly_once()
    {
        var launcher = new HeldLauncher();
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
        var first = harness.DeliverRawAsync(copy);
        await launcher.FirstCall.WaitAsync(harness.Patience); // the first copy is launching, inside the instance
        var second = harness.DeliverRawAsync(copy);

        // The second copy either queues at the instance's gate or, were it let in, calls the launcher too: either way
        // it has had its chance before the first launch answers. No time window decides it.
        try
        {
            var registry = harness.Services.GetRequiredService<WorkflowRegistry>();
            var waiting = registry.InstanceGate.WhenUsersAsync(
                registry.NameOf(typeof(RelaunchOnEventWorkflow)), WorkflowRegistry.CorrelatedInstanceKey("job-1"), users: 2);
            await Task.WhenAny(waiting, launcher.SecondCall).WaitAsync(harness.Patience);
        }
        finally
        {
            launcher.Release(); // also when the test fails, so that the endpoint can stop
        }

        await Task.WhenAll(first, second);

        Assert.Single(launcher.Calls);
        var instance = (await harness.FindWorkflowAsync<RelaunchOnEventWorkflow>("job-1"))!;
        Assert.Single(instance.GetState<WatchState>().Launched);
        Assert.Single(instance.History, h => h.MessageId == "event:evt-dup");
        Assert.Empty(await harness.DeadLettersAsync());
    }
}

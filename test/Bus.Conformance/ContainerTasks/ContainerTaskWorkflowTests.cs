using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bus.Aws;
using Bus.Aws.Ecs;
using Bus.Hosting;
using Bus.Transports;
using Bus.Workflows;
using Bus.Workflows.ContainerTasks;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Bus.Conformance.ContainerTasks;

/// <summary>A film to render in a container task.</summary>
public sealed record RenderFilm(string FilmId) : ICommand;

/// <summary>The render succeeded.</summary>
public sealed record FilmRendered(string FilmId, int Runs) : IEvent;

/// <summary>The render failed for good.</summary>
public sealed record FilmRenderFailed(string FilmId, int Runs, string Reason) : IEvent;

/// <summary>The container-task workflow under test: the "renderer" container decides; exit codes 1 and 137 and the
/// default stop codes are retried; up to 3 runs, 1 second apart.</summary>
public sealed class RenderWorkflow : ContainerTaskWorkflow<RenderFilm, EcsTaskStateChange>
{
    /// <inheritdoc />
    protected override void ConfigureTask(ContainerTaskDeclaration<RenderFilm> task) => task
        .CorrelateBy(m => m.FilmId)
        .Launch((m, run) => new ContainerTaskRequest
        {
            TaskDefinition = "render-film",
            StartedBy = m.FilmId,
            ContainerName = "renderer",
            Command = ["render", m.FilmId],
        })
        .Rerun(p =>
        {
            p.MaxRuns = 3;
            p.BackOff = TimeSpan.FromSeconds(1);
            p.Jitter = 0;
            p.RetryableExitCodes.Add(1);
            p.RetryableExitCodes.Add(137);
        })
        .RetryUnmatchedEventsFor(TimeSpan.FromMinutes(5))
        .OnSucceeded(o => o.PublishAsync(new FilmRendered(o.Start.FilmId, o.Runs.Count)))
        .OnFailed(o => o.PublishAsync(new FilmRenderFailed(o.Start.FilmId, o.Runs.Count, o.FailureReason!)));
}

/// <summary>A launcher that records requests, returns task ARNs, refuses launches when told, and signals each launch.</summary>
public sealed class RecordingLauncher : IContainerTaskLauncher
{
    private readonly ConcurrentQueue<(ContainerTaskRequest Request, string TaskArn)> _launched = new();
    private readonly ConcurrentQueue<string> _refusals = new();
    private readonly List<(int Count, TaskCompletionSource Done)> _waiters = [];
    private int _count;

    /// <summary>What was launched, in order.</summary>
    public IReadOnlyList<(ContainerTaskRequest Request, string TaskArn)> Launched => _launched.ToArray();

    /// <summary>Makes the next launch fail with <paramref name="reason"/> (as RunTask failures do).</summary>
    public void RefuseNext(string reason) => _refusals.Enqueue(reason);

    /// <inheritdoc />
    public Task<string> LaunchAsync(ContainerTaskRequest request, CancellationToken cancellationToken)
    {
        var number = Interlocked.Increment(ref _count);
        if (_refusals.TryDequeue(out var reason))
        {
            Signal(number);
            throw new ContainerTaskLaunchException(reason);
        }

        var arn = $"arn:aws:ecs:eu-west-1:111122223333:task/render/{Guid.NewGuid():N}";
        _launched.Enqueue((request, arn));
        Signal(number);
        return Task.FromResult(arn);
    }

    /// <summary>Completes when <paramref name="count"/> launches (refused ones included) were asked for.</summary>
    public Task WhenLaunchedAsync(int count)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiters)
        {
            _waiters.Add((count, done));
        }

        Signal(Volatile.Read(ref _count));
        return done.Task;
    }

    private void Signal(int count)
    {
        lock (_waiters)
        {
            foreach (var waiter in _waiters.Where(w => w.Count <= count).ToList())
            {
                waiter.Done.TrySetResult();
                _waiters.Remove(waiter);
            }
        }
    }
}

/// <summary>
/// The in-memory workflow store, telling waiters when an instance is saved finished. A workflow's handler sends what it
/// sent (an outcome event among it) before it saves the instance, so a test that heard the outcome awaits the save here
/// before it reads the state: on a busy machine the outcome's handler can run before the save.
/// </summary>
public sealed class FinishedInstanceSignals : IWorkflowStore
{
    private readonly InMemoryWorkflowStore _store = new();
    private readonly List<(string Workflow, string Correlation, TaskCompletionSource Done)> _waiters = [];
    private readonly HashSet<(string Workflow, string Correlation)> _finished = [];

    /// <summary>Completes once the instance of <paramref name="workflowName"/> correlated on
    /// <paramref name="correlationValue"/> was saved completed or failed.</summary>
    public Task WhenFinishedAsync(string workflowName, string correlationValue)
    {
        lock (_waiters)
        {
            if (_finished.Contains((workflowName, correlationValue)))
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((workflowName, correlationValue, done));
            return done.Task;
        }
    }

    /// <inheritdoc />
    public Task<WorkflowInstance?> GetAsync(string workflowName, string id, CancellationToken cancellationToken) =>
        _store.GetAsync(workflowName, id, cancellationToken);

    /// <inheritdoc />
    public Task<WorkflowInstance?> FindAsync(string workflowName, string correlationValue, CancellationToken cancellationToken) =>
        _store.FindAsync(workflowName, correlationValue, cancellationToken);

    /// <inheritdoc />
    public async Task InsertAsync(WorkflowInstance instance, CancellationToken cancellationToken)
    {
        await _store.InsertAsync(instance, cancellationToken);
        Saved(instance);
    }

    /// <inheritdoc />
    public async Task UpdateAsync(WorkflowInstance instance, long expectedVersion, CancellationToken cancellationToken)
    {
        await _store.UpdateAsync(instance, expectedVersion, cancellationToken);
        Saved(instance);
    }

    /// <inheritdoc />
    public Task<WorkflowPage> ListAsync(WorkflowListQuery query, CancellationToken cancellationToken) => _store.ListAsync(query, cancellationToken);

    private void Saved(WorkflowInstance instance)
    {
        if (instance.Status == WorkflowStatus.Running || instance.CorrelationValue is not { } correlation)
        {
            return;
        }

        lock (_waiters)
        {
            _finished.Add((instance.WorkflowName, correlation));
            foreach (var waiter in _waiters.Where(w => w.Workflow == instance.WorkflowName && w.Correlation == correlation).ToList())
            {
                waiter.Done.TrySetResult();
                _waiters.Remove(waiter);
            }
        }
    }
}

/// <summary>
/// The container-task workflow against the event variants a real ECS account produces: a sidecar listed first, a
/// container without an exit code, TaskFailedToStart and SpotInterruption stop codes, late and duplicate events,
/// refused launches, exhaustion, and events of tasks that belong to no workflow. Subclasses choose the transport; raw
/// events go through it exactly as EventBridge delivers them (the event JSON as the body, no bus headers).
/// </summary>
public abstract class ContainerTaskWorkflowTests : IAsyncLifetime
{
    private readonly Recorder _recorder = new();
    private readonly BusProbe _probe = new();
    private readonly RecordingLauncher _launcher = new();
    private readonly FinishedInstanceSignals _workflows = new();
    private TestEndpoint _endpoint = null!;
    private TimeDriver _driver = null!;

    /// <summary>The endpoint's name.</summary>
    protected string Name { get; } = $"render-{Guid.NewGuid():N}"[..20];

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        var time = CreateTime();
        _driver = new TimeDriver(time, TimeSpan.FromSeconds(60));
        _endpoint = await TestEndpoint.StartAsync(Name, time,
            services => services.AddSingleton(_recorder).AddSingleton<IContainerTaskLauncher>(_launcher).AddSingleton<IWorkflowStore>(_workflows),
            bus =>
            {
                UseTransport(bus);
                bus.AllowInMemoryStores = true;
                bus.Retry.ImmediateRetries = 0;
                bus.Retry.InitialDelay = TimeSpan.FromSeconds(1);
                bus.Retry.MaxAttempts = 3;
                bus.SystemMessages.MapEcsTaskStateChange();
                bus.AddWorkflow<RenderWorkflow>("media.render");
                bus.AddHandler<OutcomeRecorder>();
            });
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        await _driver.AwaitAsync(_endpoint.StopAsync());
        await _endpoint.DisposeAsync();
        _probe.Dispose();
    }

    /// <summary>The clock: a manual one where the transport allows, else the system's.</summary>
    protected abstract TimeProvider CreateTime();

    /// <summary>Chooses the transport.</summary>
    protected abstract void UseTransport(BusConfiguration bus);

    [Fact]
    public async Task A_sidecar_listed_first_does_not_decide_the_run()
    {
        await StartAsync("film-sidecar");
        await DeliverAsync(Event(0, "film-sidecar", 3, containers: [("log-router", 0), ("renderer", 1)]));
        await _driver.AwaitAsync(_launcher.WhenLaunchedAsync(2));
        await DeliverAsync(Event(1, "film-sidecar", 3, containers: [("log-router", 137), ("renderer", 0)]));

        var outcome = await OutcomeAsync();
        Assert.Equal(new FilmRendered("film-sidecar", 2), outcome);
        var state = await StateAsync("film-sidecar");
        Assert.Equal([1, 0], state.Runs.Select(r => r.ExitCode));
        Assert.Equal([ContainerTaskRunResult.Failed, ContainerTaskRunResult.Succeeded], state.Runs.Select(r => r.Result));
        Assert.Equal(_launcher.Launched.Select(l => l.TaskArn), state.Runs.Select(r => r.TaskId));
    }

    [Fact]
    public async Task A_container_without_an_exit_code_is_a_failed_run_with_its_reason()
    {
        await StartAsync("film-no-exit");
        await DeliverAsync(Event(0, "film-no-exit", 4, stopCode: "EssentialContainerExited",
            containers: [("renderer", null)], containerReason: "CannotPullContainerError: pull access denied"));

        var failed = Assert.IsType<FilmRenderFailed>(await OutcomeAsync());
        Assert.Equal(1, failed.Runs);
        Assert.Contains("stopped without an exit code [EssentialContainerExited] (CannotPullContainerError: pull access denied)", failed.Reason, StringComparison.Ordinal);
        var snapshot = await SnapshotAsync("film-no-exit");
        Assert.Equal(WorkflowStatus.Failed, snapshot.Status);
        Assert.Equal(failed.Reason, snapshot.FailureReason);
        var run = Assert.Single(snapshot.GetState<ContainerTaskState<RenderFilm>>().Runs);
        Assert.Null(run.ExitCode);
        Assert.Equal("EssentialContainerExited", run.StopCode);
    }

    [Fact]
    public async Task TaskFailedToStart_and_SpotInterruption_are_rerun_by_stop_code()
    {
        await StartAsync("film-spot");
        await DeliverAsync(Event(0, "film-spot", 2, stopCode: "TaskFailedToStart", containers: [("renderer", null)], stoppedReason: "CannotPullContainerError"));
        await _driver.AwaitAsync(_launcher.WhenLaunchedAsync(2));

        // 143 is not a retryable exit code, but the platform took the capacity away: rerun.
        await DeliverAsync(Event(1, "film-spot", 5, stopCode: "SpotInterruption", containers: [("renderer", 143)]));
        await _driver.AwaitAsync(_launcher.WhenLaunchedAsync(3));
        await DeliverAsync(Event(2, "film-spot", 3, containers: [("renderer", 0)]));

        Assert.Equal(new FilmRendered("film-spot", 3), await OutcomeAsync());
        var state = await StateAsync("film-spot");
        Assert.Equal(
            [ContainerTaskRunResult.FailedToStart, ContainerTaskRunResult.Failed, ContainerTaskRunResult.Succeeded],
            state.Runs.Select(r => r.Result));
        Assert.Equal(["TaskFailedToStart", "SpotInterruption", "EssentialContainerExited"], state.Runs.Select(r => r.StopCode));
        Assert.Equal("CannotPullContainerError", state.Runs[0].Reason);
    }

    [Fact]
    public async Task Late_stale_and_duplicate_events_are_ignored_by_version_and_event_id()
    {
        await StartAsync("film-order");
        var stop = Event(0, "film-order", 5, containers: [("renderer", 1)], eventId: "evt-stop-1");
        await DeliverAsync(stop);
        await _driver.AwaitAsync(_launcher.WhenLaunchedAsync(2));
        await DeliverAsync(stop); // redelivered by EventBridge: same event id, another queue message
        await DeliverAsync(Event(0, "film-order", 3, status: "RUNNING", containers: [("renderer", null)])); // older, late

        await DeliverAsync(Event(1, "film-order", 2, status: "RUNNING", containers: [("renderer", null)]));
        await DeliverAsync(Event(1, "film-order", 1, status: "PENDING", containers: [("renderer", null)])); // stale
        await DeliverAsync(Event(1, "film-order", 3, containers: [("renderer", 0)]));

        Assert.Equal(new FilmRendered("film-order", 2), await OutcomeAsync());
        await _driver.AwaitAsync(_probe.WhenAsync(Name, "bus.messages.completed", 8)); // start, 6 events, the rerun timeout
        Assert.Equal(2, _launcher.Launched.Count);
        var state = await StateAsync("film-order");
        Assert.Equal([5L, 3L], state.Runs.Select(r => r.LastVersion));
        Assert.Equal("STOPPED", state.Runs[1].LastStatus);
        Assert.Single((await SnapshotAsync("film-order")).History, h => h.MessageId == "event:evt-stop-1");
        Assert.Empty(await _endpoint.DeadLetters.PeekAsync(Name, 10, default));
    }

    [Fact]
    public async Task Runs_are_exhausted_after_the_bound_and_a_non_retryable_exit_fails_at_once()
    {
        await StartAsync("film-oom");
        for (var run = 0; run < 3; run++)
        {
            await _driver.AwaitAsync(_launcher.WhenLaunchedAsync(run + 1));
            await DeliverAsync(Event(run, "film-oom", 3, containers: [("renderer", 137)], containerReason: "OutOfMemoryError"));
        }

        var failed = Assert.IsType<FilmRenderFailed>(await OutcomeAsync());
        Assert.Equal("run 3 of 3 exited with 137 [EssentialContainerExited] (OutOfMemoryError); no rerun left", failed.Reason);
        Assert.Equal(3, _launcher.Launched.Count);

        await StartAsync("film-bad-input");
        await _driver.AwaitAsync(_launcher.WhenLaunchedAsync(4));
        await DeliverAsync(Event(3, "film-bad-input", 3, containers: [("renderer", 2)]));
        await _driver.AwaitAsync(_recorder.WhenAsync(all => all.Count == 2));
        var badInput = Assert.IsType<FilmRenderFailed>(_recorder.All[1].Message);
        Assert.Equal("run 1 exited with 2 [EssentialContainerExited] (Essential container in task exited), which the rerun policy does not retry", badInput.Reason);
        Assert.Equal(4, _launcher.Launched.Count);
    }

    [Fact]
    public async Task A_refused_launch_is_a_run_that_failed_to_start_and_is_rerun_with_an_idempotency_token()
    {
        _launcher.RefuseNext("RESOURCE:MEMORY");
        await _endpoint.Bus.SendAsync(new RenderFilm("film-refused"));
        await _driver.AwaitAsync(_launcher.WhenLaunchedAsync(2));
        var (request, arn) = Assert.Single(_launcher.Launched);
        await DeliverAsync(Event(arn, "film-refused", 3, containers: [("renderer", 0)], time: _driver.Time.GetUtcNow()));

        Assert.Equal(new FilmRendered("film-refused", 2), await OutcomeAsync());
        var snapshot = await SnapshotAsync("film-refused");
        var runs = snapshot.GetState<ContainerTaskState<RenderFilm>>().Runs;
        Assert.Equal(ContainerTaskRunResult.FailedToStart, runs[0].Result);
        Assert.Equal("RESOURCE:MEMORY", runs[0].Reason);
        Assert.Null(runs[0].TaskId);
        Assert.Equal("film-refused", request.StartedBy);
        Assert.Equal($"{snapshot.Id}-run-2", request.IdempotencyToken);
    }

    [Fact]
    public async Task An_event_of_a_task_no_workflow_started_is_retried_briefly_then_completed_not_dead_lettered()
    {
        await DeliverAsync(Event("arn:aws:ecs:eu-west-1:111122223333:task/other/1", "someone-else", 3, containers: [("app", 0)], time: _driver.Time.GetUtcNow()));

        await _driver.AwaitAsync(_probe.WhenAsync(Name, "bus.messages.completed", 1));
        Assert.Equal(2, _probe.Count(Name, "bus.messages.retried"));
        Assert.Equal(0, _probe.Count(Name, "bus.messages.dead_lettered"));
        Assert.Empty(await _endpoint.DeadLetters.PeekAsync(Name, 10, default));
        Assert.Empty(_launcher.Launched);
    }

    /// <summary>An ECS "Task State Change" event as EventBridge delivers it.</summary>
    public static string Event(
        string taskArn, string startedBy, long version, string status = "STOPPED", string? stopCode = null,
        IReadOnlyList<(string Name, int? ExitCode)>? containers = null, string? containerReason = null, string? stoppedReason = null, string? eventId = null,
        DateTimeOffset? time = null)
    {
        var list = new JsonArray();
        foreach (var (name, exitCode) in containers ?? [])
        {
            var container = new JsonObject { ["name"] = name, ["lastStatus"] = status };
            if (exitCode is { } code)
            {
                container["exitCode"] = code;
            }

            if (containerReason is not null && name == "renderer")
            {
                container["reason"] = containerReason;
            }

            list.Add(container);
        }

        var detail = new JsonObject
        {
            ["taskArn"] = taskArn,
            ["startedBy"] = startedBy,
            ["lastStatus"] = status,
            ["version"] = version,
            ["containers"] = list,
        };
        if (status == "STOPPED")
        {
            detail["stopCode"] = stopCode ?? "EssentialContainerExited";
            detail["stoppedReason"] = stoppedReason ?? "Essential container in task exited";
        }

        return new JsonObject
        {
            ["id"] = eventId ?? Guid.NewGuid().ToString(),
            ["detail-type"] = "ECS Task State Change",
            ["source"] = "aws.ecs",
            ["time"] = time ?? DateTimeOffset.UtcNow,
            ["resources"] = new JsonArray(taskArn),
            ["detail"] = detail,
        }.ToJsonString();
    }

    private string Event(int run, string startedBy, long version, string status = "STOPPED", string? stopCode = null,
        IReadOnlyList<(string Name, int? ExitCode)>? containers = null, string? containerReason = null, string? stoppedReason = null, string? eventId = null) =>
        Event(_launcher.Launched[run].TaskArn, startedBy, version, status, stopCode, containers, containerReason, stoppedReason, eventId, _driver.Time.GetUtcNow());

    private async Task StartAsync(string filmId)
    {
        var before = _launcher.Launched.Count;
        await _endpoint.Bus.SendAsync(new RenderFilm(filmId));
        await _driver.AwaitAsync(_launcher.WhenLaunchedAsync(before + 1));
    }

    /// <summary>Sends a raw event through the transport to the endpoint's queue, without bus headers, and waits until
    /// the endpoint has settled one more message.</summary>
    private async Task DeliverAsync(string json)
    {
        var settled = Settled();
        var transport = _endpoint.Services.GetRequiredService<ITransport>();
        await transport.SendAsync([new OutgoingMessage(Destination.Queue(Name), new TransportMessage(null, System.Text.Encoding.UTF8.GetBytes(json)))], default);
        await _driver.AwaitAsync(_probe.WhenAsync(Name, "bus.messages.completed", settled + 1));
    }

    private long Settled() => _probe.Count(Name, "bus.messages.completed");

    /// <summary>The workflow's outcome event, once its instance is saved finished: the event goes out before the save,
    /// so the state read right after hearing it could still be the one before.</summary>
    private async Task<object> OutcomeAsync()
    {
        await _driver.AwaitAsync(_recorder.WhenAsync(all => all.Count > 0));
        var outcome = Assert.Single(_recorder.All).Message;
        var filmId = outcome switch
        {
            FilmRendered rendered => rendered.FilmId,
            FilmRenderFailed failed => failed.FilmId,
            _ => throw new InvalidOperationException($"Unexpected outcome {outcome}."),
        };
        await _driver.AwaitAsync(_workflows.WhenFinishedAsync("media.render", filmId));
        return outcome;
    }

    private async Task<WorkflowSnapshot> SnapshotAsync(string filmId) =>
        (await _endpoint.Services.GetRequiredService<IWorkflowStatusQuery>().FindAsync<RenderWorkflow>(filmId))!;

    private async Task<ContainerTaskState<RenderFilm>> StateAsync(string filmId) =>
        (await SnapshotAsync(filmId)).GetState<ContainerTaskState<RenderFilm>>();

    private sealed class OutcomeRecorder(Recorder recorder, TimeProvider time) : IHandleMessages<FilmRendered>, IHandleMessages<FilmRenderFailed>
    {
        public Task HandleAsync(FilmRendered message, IMessageContext context) => Record(message, context);

        public Task HandleAsync(FilmRenderFailed message, IMessageContext context) => Record(message, context);

        private Task Record(object message, IMessageContext context)
        {
            recorder.Record(new Handled(nameof(OutcomeRecorder), message, context.MessageId, context.Headers, context.Attempt, context.Queue, time.GetUtcNow()));
            return Task.CompletedTask;
        }
    }
}

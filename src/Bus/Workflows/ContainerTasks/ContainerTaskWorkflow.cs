using System.Globalization;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Workflows.ContainerTasks;

/// <summary>
/// A workflow that runs a container task for each <typeparamref name="TStart"/> and follows it through its
/// <typeparamref name="TTaskEvent"/> events (e.g. <c>Bus.Aws.Ecs.EcsTaskStateChange</c>) until it succeeds or the
/// rerun policy gives up. The library runs the state machine: each run is launched once (memoised per message, with an
/// idempotency token across processes), stale and duplicate events are ignored by version and event id, the deciding
/// container's exit code and the stop code choose success, rerun after a back-off, or failure, and every run (task id,
/// exit code, stop code, reason, times) is recorded in <see cref="ContainerTaskState{TStart}"/> for the status query.
/// Register it with <c>bus.AddWorkflow&lt;T&gt;()</c> like any workflow, and register the launcher in DI.
/// </summary>
/// <typeparam name="TStart">The message that starts a task (a command or event).</typeparam>
/// <typeparam name="TTaskEvent">The system message that reports the task's changes; map it on the endpoint.</typeparam>
public abstract class ContainerTaskWorkflow<TStart, TTaskEvent> : Workflow<ContainerTaskState<TStart>>
    where TStart : class
    where TTaskEvent : class, IContainerTaskEvent
{
    private ContainerTaskDeclaration<TStart> _task = null!;

    /// <summary>Declares the task, the rerun policy and the outcome handlers. Like <see cref="Workflow{TState}"/>'s
    /// Configure, it only declares and must not use injected dependencies.</summary>
    protected abstract void ConfigureTask(ContainerTaskDeclaration<TStart> task);

    /// <inheritdoc />
    protected sealed override void Configure(WorkflowConfigurator<ContainerTaskState<TStart>> workflow)
    {
        var task = new ContainerTaskDeclaration<TStart>();
        ConfigureTask(task);
        task.Validate(GetType());
        _task = task;
        var key = task.Key!;
        workflow
            .CorrelateBy(s => s.Key)
            .StartedBy<TStart>(m => key(m), StartAsync)
            .Handles<TTaskEvent>(e => e.StartedBy, TaskChangedAsync)
            .Handles<ContainerTaskRerunDue>(RerunAsync)
            .WhenUnmatched<TTaskEvent>(UnmatchedMessagePolicy.RetryThenComplete, task.UnmatchedRetryWindow)

            // Sent before the instance is saved, a short back-off can come back before the save: retried (bounded by the
            // retry policy's attempts), never dead-lettered.
            .WhenUnmatched<ContainerTaskRerunDue>(UnmatchedMessagePolicy.RetryThenComplete, TimeSpan.MaxValue);
    }

    private Task StartAsync(TStart message, WorkflowContext<ContainerTaskState<TStart>> context)
    {
        if (!context.IsNew)
        {
            context.Annotate("already started; ignored");
            return Task.CompletedTask;
        }

        context.State.Start = message;
        return LaunchAsync(context, 1);
    }

    private Task RerunAsync(ContainerTaskRerunDue due, WorkflowContext<ContainerTaskState<TStart>> context)
    {
        var state = context.State;
        if (state.NextRunAt is null || due.Run != state.Runs.Count + 1)
        {
            context.Discard();
            return Task.CompletedTask;
        }

        return LaunchAsync(context, due.Run);
    }

    private async Task LaunchAsync(WorkflowContext<ContainerTaskState<TStart>> context, int number)
    {
        var state = context.State;
        var services = context.Services ?? throw new InvalidOperationException("The container-task workflow runs only inside the bus.");
        var time = services.GetRequiredService<TimeProvider>();
        var launcher = (IContainerTaskLauncher)services.GetRequiredService(_task.LauncherType);
        var request = _task.Request!(state.Start!, number) with
        {
            StartedBy = state.Key!,
            IdempotencyToken = IdempotencyToken(context.WorkflowId, number),
        };
        var run = new ContainerTaskRun { Number = number, LaunchedAt = time.GetUtcNow() };
        state.Runs.Add(run);
        state.NextRunAt = null;
        try
        {
            // Memoised under the message's identity: a retry of this message (e.g. after a save conflict) finds the task.
            run.TaskId = await context.Message.Steps.RunAsync($"container-task:{context.WorkflowId}:launch-{number}",
                ct => launcher.LaunchAsync(request, ct)).ConfigureAwait(false);
            run.LastStatus = "LAUNCHED";
            context.Annotate($"run {number} launched: {run.TaskId}");
        }
        catch (ContainerTaskLaunchException ex)
        {
            run.Result = ContainerTaskRunResult.FailedToStart;
            run.Reason = ex.Message;
            run.StoppedAt = time.GetUtcNow();
            context.Annotate($"run {number} failed to start: {ex.Message}");
            await AfterFailureAsync(context, run, _task.Policy.RerunWhenFailedToStart, time).ConfigureAwait(false);
        }
    }

    private async Task TaskChangedAsync(TTaskEvent change, WorkflowContext<ContainerTaskState<TStart>> context)
    {
        var state = context.State;
        var run = state.Runs.LastOrDefault(r => r.TaskId == change.TaskId);
        if (run is null)
        {
            if (state.NextRunAt is not null)
            {
                // Another process may have launched the next run and not saved it yet: look again later.
                throw new InvalidOperationException($"Task {change.TaskId} is not a recorded run of instance {context.WorkflowId} yet; retried.");
            }

            context.Annotate($"task {change.TaskId} is no run of this instance; ignored");
            context.Discard();
            return;
        }

        // At-least-once and unordered: only a newer version of the current, unfinished run counts.
        if (run != state.LastRun || run.Result != ContainerTaskRunResult.Running || change.Version <= run.LastVersion)
        {
            context.Discard();
            return;
        }

        var time = context.Services!.GetRequiredService<TimeProvider>();
        run.LastVersion = change.Version;
        run.LastStatus = change.LastStatus;
        run.StartedAt ??= change.StartedAt;
        if (!change.IsStopped)
        {
            context.Annotate($"run {run.Number}: {change.LastStatus} (version {change.Version})");
            return;
        }

        run.StoppedAt = change.StoppedAt ?? time.GetUtcNow();
        run.StopCode = change.StopCode;
        var policy = _task.Policy;
        var containerName = _task.DecidingContainer ?? _task.Request!(state.Start!, run.Number).ContainerName;
        var container = containerName is not null
            ? change.Containers.FirstOrDefault(c => string.Equals(c.Name, containerName, StringComparison.Ordinal))
            : change.Containers.Count == 1 ? change.Containers[0] : null;
        run.ExitCode = container?.ExitCode;
        run.Reason = container?.Reason ?? change.StoppedReason;
        var failedToStart = change.StopCode is not null && policy.FailedToStartStopCodes.Contains(change.StopCode);
        if (!failedToStart && container?.ExitCode == 0)
        {
            run.Result = ContainerTaskRunResult.Succeeded;
            context.Annotate($"run {run.Number} succeeded");
            await _task.Succeeded(new ContainerTaskOutcome<TStart>(context, null)).ConfigureAwait(false);
            context.Complete();
            return;
        }

        bool retryable;
        if (failedToStart)
        {
            run.Result = ContainerTaskRunResult.FailedToStart;
            retryable = policy.RerunWhenFailedToStart;
        }
        else
        {
            run.Result = ContainerTaskRunResult.Failed;
            if (container is null)
            {
                run.Reason = containerName is null
                    ? $"the task has containers {string.Join(", ", change.Containers.Select(c => c.Name))} and the workflow does not say whose exit decides: declare task.ExitDecidedBy(name)"
                    : $"container '{containerName}' is not in the task's event ({run.Reason ?? "no reason given"})";
            }

            var byStopCode = change.StopCode is not null && policy.RetryableStopCodes.Contains(change.StopCode);
            var byExitCode = container?.ExitCode is { } code
                ? policy.RetryableExitCodes.Count == 0 || policy.RetryableExitCodes.Contains(code)
                : container is not null && policy.RetryableExitCodes.Count == 0;
            retryable = byStopCode || byExitCode;
        }

        context.Annotate($"run {run.Number} {Describe(run)}");
        await AfterFailureAsync(context, run, retryable, time).ConfigureAwait(false);
    }

    private async Task AfterFailureAsync(WorkflowContext<ContainerTaskState<TStart>> context, ContainerTaskRun run, bool retryable, TimeProvider time)
    {
        var policy = _task.Policy;
        if (retryable && run.Number < policy.MaxRuns)
        {
            var delay = policy.DelayBefore(run.Number + 1, Random.Shared.NextDouble());
            context.State.NextRunAt = time.GetUtcNow() + delay;
            await context.RequestTimeoutAsync(delay, new ContainerTaskRerunDue(run.Number + 1)).ConfigureAwait(false);
            return;
        }

        var reason = retryable
            ? string.Create(CultureInfo.InvariantCulture, $"run {run.Number} of {policy.MaxRuns} {Describe(run)}; no rerun left")
            : string.Create(CultureInfo.InvariantCulture, $"run {run.Number} {Describe(run)}, which the rerun policy does not retry");
        await _task.Failed(new ContainerTaskOutcome<TStart>(context, reason)).ConfigureAwait(false);
        context.Fail(reason);
    }

    private static string Describe(ContainerTaskRun run)
    {
        var what = run.Result == ContainerTaskRunResult.FailedToStart
            ? "failed to start"
            : run.ExitCode is { } code ? string.Create(CultureInfo.InvariantCulture, $"exited with {code}") : "stopped without an exit code";
        var stop = run.StopCode is null ? string.Empty : $" [{run.StopCode}]";
        var reason = string.IsNullOrEmpty(run.Reason) ? string.Empty : $" ({run.Reason})";
        return what + stop + reason;
    }

    /// <summary>Up to 64 characters (ECS clientToken): the instance id and the run number.</summary>
    private static string IdempotencyToken(string workflowId, int run)
    {
        var suffix = string.Create(CultureInfo.InvariantCulture, $"-run-{run}");
        var id = workflowId.Length + suffix.Length <= 64 ? workflowId : Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(workflowId)))[..(64 - suffix.Length)];
        return id + suffix;
    }
}

namespace Bus.Workflows.ContainerTasks;

/// <summary>What a <see cref="ContainerTaskWorkflow{TStart, TTaskEvent}"/> runs and how it reacts: the task (launcher,
/// request, whose exit decides), the rerun policy and the outcome handlers.</summary>
/// <typeparam name="TStart">The message that starts the workflow.</typeparam>
public sealed class ContainerTaskDeclaration<TStart>
    where TStart : class
{
    internal ContainerTaskDeclaration()
    {
    }

    internal Func<TStart, string?>? Key { get; private set; }

    internal Func<TStart, int, ContainerTaskRequest>? Request { get; private set; }

    internal Type LauncherType { get; private set; } = typeof(IContainerTaskLauncher);

    internal string? DecidingContainer { get; private set; }

    internal ContainerTaskRerunPolicy Policy { get; } = new();

    internal TimeSpan UnmatchedRetryWindow { get; private set; } = TimeSpan.FromMinutes(5);

    internal Func<ContainerTaskOutcome<TStart>, Task> Succeeded { get; private set; } = _ => Task.CompletedTask;

    internal Func<ContainerTaskOutcome<TStart>, Task> Failed { get; private set; } = _ => Task.CompletedTask;

    /// <summary>The instance's key, read from the starting message: the correlation value and the
    /// <see cref="ContainerTaskRequest.StartedBy"/> tag of every run (on ECS up to 36 letters, digits, '-' and '_').
    /// Required.</summary>
    public ContainerTaskDeclaration<TStart> CorrelateBy(Func<TStart, string?> key)
    {
        Key = key ?? throw new ArgumentNullException(nameof(key));
        return this;
    }

    /// <summary>The task to run for run number <c>run</c> (1 for the first). The workflow sets
    /// <see cref="ContainerTaskRequest.StartedBy"/> to the key and <see cref="ContainerTaskRequest.IdempotencyToken"/> to
    /// the instance id and run number. Required.</summary>
    public ContainerTaskDeclaration<TStart> Launch(Func<TStart, int, ContainerTaskRequest> request)
    {
        Request = request ?? throw new ArgumentNullException(nameof(request));
        return this;
    }

    /// <summary>Launches with the <typeparamref name="TLauncher"/> registered in DI (default: the registered
    /// <see cref="IContainerTaskLauncher"/>).</summary>
    public ContainerTaskDeclaration<TStart> LaunchWith<TLauncher>()
        where TLauncher : IContainerTaskLauncher
    {
        LauncherType = typeof(TLauncher);
        return this;
    }

    /// <summary>The container whose exit decides a run's result. Task events carry no "essential" flag and list
    /// sidecars in any order, so name it when the task has more than one container. Default: the request's
    /// <see cref="ContainerTaskRequest.ContainerName"/>, else the task's only container.</summary>
    public ContainerTaskDeclaration<TStart> ExitDecidedBy(string containerName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(containerName);
        DecidingContainer = containerName;
        return this;
    }

    /// <summary>When to run the task again (default: up to 3 runs, 1 minute then 2 minutes apart, 10% jitter, every
    /// non-zero exit and the TaskFailedToStart, SpotInterruption and TerminationNotice stop codes).</summary>
    public ContainerTaskDeclaration<TStart> Rerun(Action<ContainerTaskRerunPolicy> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        configure(Policy);
        Policy.Validate();
        return this;
    }

    /// <summary>Runs when the deciding container exited with 0 (e.g. publish a "done" event); the instance then
    /// completes.</summary>
    public ContainerTaskDeclaration<TStart> OnSucceeded(Func<ContainerTaskOutcome<TStart>, Task> handler)
    {
        Succeeded = handler ?? throw new ArgumentNullException(nameof(handler));
        return this;
    }

    /// <summary>Runs when the last run failed and no rerun is left or allowed (e.g. publish a "failed" event); the
    /// instance then fails with <see cref="ContainerTaskOutcome{TStart}.FailureReason"/>.</summary>
    public ContainerTaskDeclaration<TStart> OnFailed(Func<ContainerTaskOutcome<TStart>, Task> handler)
    {
        Failed = handler ?? throw new ArgumentNullException(nameof(handler));
        return this;
    }

    /// <summary>How long a task event that matches no instance is retried before it is completed quietly (default 5
    /// minutes, also bounded by the retry policy's attempts): long enough for a launch to be saved, short enough that
    /// events of tasks started by others never reach the dead-letter queue.</summary>
    public ContainerTaskDeclaration<TStart> RetryUnmatchedEventsFor(TimeSpan window)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, TimeSpan.Zero);
        UnmatchedRetryWindow = window;
        return this;
    }

    internal void Validate(Type workflowType)
    {
        if (Key is null || Request is null)
        {
            throw new BusConfigurationException(
                $"Container-task workflow '{workflowType.FullName}' must declare task.CorrelateBy(m => m.Key) and task.Launch((m, run) => new ContainerTaskRequest {{ ... }}).");
        }

        Policy.Validate();
    }
}

/// <summary>How a container-task workflow ended, given to its outcome handlers.</summary>
/// <typeparam name="TStart">The message that started the workflow.</typeparam>
public sealed class ContainerTaskOutcome<TStart>
    where TStart : class
{
    private readonly WorkflowContext<ContainerTaskState<TStart>> _context;

    internal ContainerTaskOutcome(WorkflowContext<ContainerTaskState<TStart>> context, string? failureReason)
    {
        _context = context;
        FailureReason = failureReason;
    }

    /// <summary>The message that started the workflow.</summary>
    public TStart Start => _context.State.Start!;

    /// <summary>The instance's key (correlation value).</summary>
    public string Key => _context.State.Key!;

    /// <summary>Every run, oldest first.</summary>
    public IReadOnlyList<ContainerTaskRun> Runs => _context.State.Runs;

    /// <summary>The run that decided the outcome.</summary>
    public ContainerTaskRun LastRun => _context.State.Runs[^1];

    /// <summary>Why the workflow failed; null when it succeeded.</summary>
    public string? FailureReason { get; }

    /// <summary>The workflow's context: publish or send from here (sent when the event is handled successfully).</summary>
    public WorkflowContext<ContainerTaskState<TStart>> Context => _context;

    /// <summary>Publishes an event carrying the workflow id.</summary>
    public Task PublishAsync<TEvent>(TEvent @event)
        where TEvent : class => _context.PublishAsync(@event);
}

/// <summary>The timeout a container-task workflow sends itself to start the next run after its back-off.</summary>
/// <param name="Run">The number of the run to start.</param>
[MessageName("bus.container-task.rerun-due")]
public sealed record ContainerTaskRerunDue(int Run) : ICommand;

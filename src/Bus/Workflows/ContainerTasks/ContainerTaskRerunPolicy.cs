namespace Bus.Workflows.ContainerTasks;

/// <summary>When a container-task workflow runs its task again, and how long it waits first.</summary>
public sealed class ContainerTaskRerunPolicy
{
    /// <summary>The ECS stop codes retried by default: the task never started, or the platform took its capacity away.</summary>
    public static readonly IReadOnlySet<string> DefaultRetryableStopCodes = new HashSet<string>(StringComparer.Ordinal)
    {
        "TaskFailedToStart", "SpotInterruption", "TerminationNotice",
    };

    /// <summary>The most runs, the first included (default 3). At least 1.</summary>
    public int MaxRuns { get; set; } = 3;

    /// <summary>The wait before the second run (default 1 minute); later waits grow by <see cref="Multiplier"/>.</summary>
    public TimeSpan BackOff { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How much each wait grows over the previous one (default 2). At least 1.</summary>
    public double Multiplier { get; set; } = 2;

    /// <summary>The longest wait (default 1 hour).</summary>
    public TimeSpan MaxBackOff { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Spreads waits by up to this fraction either way, so tasks that failed together do not rerun together
    /// (default 0.1; 0 for exact waits). Between 0 and 1.</summary>
    public double Jitter { get; set; } = 0.1;

    /// <summary>Exit codes of the deciding container that are worth a rerun; empty (the default) retries every non-zero
    /// exit code. With codes listed, other non-zero codes fail the workflow at once (e.g. a bad input exits 2).</summary>
    public ISet<int> RetryableExitCodes { get; } = new HashSet<int>();

    /// <summary>Stop codes that are worth a rerun whatever the exit code (default
    /// <see cref="DefaultRetryableStopCodes"/>).</summary>
    public ISet<string> RetryableStopCodes { get; } = new HashSet<string>(DefaultRetryableStopCodes, StringComparer.Ordinal);

    /// <summary>Stop codes that mean the task never started: such a run is recorded as
    /// <see cref="ContainerTaskRunResult.FailedToStart"/> (default TaskFailedToStart). A launch the platform refused
    /// (<see cref="ContainerTaskLaunchException"/>) always counts as failed to start.</summary>
    public ISet<string> FailedToStartStopCodes { get; } = new HashSet<string>(StringComparer.Ordinal) { "TaskFailedToStart" };

    /// <summary>Whether a run that failed to start is rerun (default true); it counts towards <see cref="MaxRuns"/>.</summary>
    public bool RerunWhenFailedToStart { get; set; } = true;

    /// <summary>The wait before run <paramref name="nextRun"/> (2 or more), for a random number in [0, 1).</summary>
    public TimeSpan DelayBefore(int nextRun, double random)
    {
        var exponent = Math.Max(0, nextRun - 2);
        var ms = Math.Min(MaxBackOff.TotalMilliseconds, BackOff.TotalMilliseconds * Math.Pow(Multiplier, exponent));
        var spread = 1 + (Jitter * ((random * 2) - 1));
        return TimeSpan.FromMilliseconds(Math.Min(MaxBackOff.TotalMilliseconds, ms * spread));
    }

    /// <summary>Checks the settings; the message says what to change.</summary>
    /// <exception cref="BusConfigurationException">A setting is out of range.</exception>
    public void Validate()
    {
        if (MaxRuns < 1)
        {
            throw new BusConfigurationException($"ContainerTaskRerunPolicy.MaxRuns is {MaxRuns}: use 1 (never rerun) or more.");
        }

        if (BackOff < TimeSpan.Zero || MaxBackOff < BackOff)
        {
            throw new BusConfigurationException(
                $"ContainerTaskRerunPolicy.BackOff ({BackOff}) must be zero or more and MaxBackOff ({MaxBackOff}) at least BackOff.");
        }

        if (Multiplier < 1 || double.IsNaN(Multiplier))
        {
            throw new BusConfigurationException($"ContainerTaskRerunPolicy.Multiplier is {Multiplier}: use 1 (equal waits) or more.");
        }

        if (Jitter is < 0 or > 1 || double.IsNaN(Jitter))
        {
            throw new BusConfigurationException($"ContainerTaskRerunPolicy.Jitter is {Jitter}: use a fraction between 0 and 1.");
        }
    }
}

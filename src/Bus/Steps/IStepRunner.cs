namespace Bus.Steps;

/// <summary>Runs named steps of a job once: a finished step's result is stored and returned on later attempts.</summary>
public interface IStepRunner
{
    /// <summary>Runs <paramref name="step"/> unless it already finished for this job, and returns its (stored) result.
    /// Messages sent inside the step go out before the step is recorded as finished.</summary>
    Task<T> RunAsync<T>(string name, Func<CancellationToken, Task<T>> step);

    /// <summary>Runs <paramref name="step"/> unless it already finished for this job.</summary>
    Task RunAsync(string name, Func<CancellationToken, Task> step);
}

namespace Bus.Steps;

/// <summary>
/// Remembers the results of finished steps of a job (keyed by the job's message id and the step name), so a retry
/// or redelivery skips steps that already ran. Results are stored as JSON.
/// </summary>
public interface IStepStore
{
    /// <summary>The stored result of a finished step, or null when the step has not finished.</summary>
    Task<string?> GetAsync(string jobId, string stepName, CancellationToken cancellationToken);

    /// <summary>Records that a step finished with <paramref name="resultJson"/>. Saving a step twice keeps the first result.</summary>
    Task SaveAsync(string jobId, string stepName, string resultJson, CancellationToken cancellationToken);

    /// <summary>The names of the finished steps of a job, in the order they finished.</summary>
    Task<IReadOnlyList<string>> ListAsync(string jobId, CancellationToken cancellationToken);

    /// <summary>Deletes every step of the jobs whose latest step finished before <paramref name="cutoff"/> (retention).
    /// A job with a step finished at or after the cutoff keeps all its steps, so a running job never loses some.</summary>
    /// <returns>How many steps were deleted.</returns>
    Task<int> DeleteJobsFinishedBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);
}

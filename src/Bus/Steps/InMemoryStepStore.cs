using System.Collections.Concurrent;

namespace Bus.Steps;

/// <summary>A step store in process memory: steps survive redeliveries and retries, not a process restart.</summary>
/// <param name="timeProvider">The clock for finished-at times (retention); <see cref="TimeProvider.System"/> when null.</param>
public sealed class InMemoryStepStore(TimeProvider? timeProvider = null) : IStepStore
{
    private readonly ConcurrentDictionary<string, List<(string Step, string Result, DateTimeOffset FinishedAt)>> _jobs = new(StringComparer.Ordinal);
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    /// <summary>Creates a store on the system clock.</summary>
    public InMemoryStepStore()
        : this(null)
    {
    }

    /// <inheritdoc />
    public Task<string?> GetAsync(string jobId, string stepName, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentException.ThrowIfNullOrEmpty(stepName);
        if (!_jobs.TryGetValue(jobId, out var steps))
        {
            return Task.FromResult<string?>(null);
        }

        lock (steps)
        {
            return Task.FromResult<string?>(steps.FirstOrDefault(s => s.Step == stepName).Result);
        }
    }

    /// <inheritdoc />
    public Task SaveAsync(string jobId, string stepName, string resultJson, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentException.ThrowIfNullOrEmpty(stepName);
        ArgumentNullException.ThrowIfNull(resultJson);
        var steps = _jobs.GetOrAdd(jobId, _ => []);
        lock (steps)
        {
            if (!steps.Any(s => s.Step == stepName))
            {
                steps.Add((stepName, resultJson, _time.GetUtcNow()));
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string>> ListAsync(string jobId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        if (!_jobs.TryGetValue(jobId, out var steps))
        {
            return Task.FromResult<IReadOnlyList<string>>([]);
        }

        lock (steps)
        {
            return Task.FromResult<IReadOnlyList<string>>(steps.Select(s => s.Step).ToList());
        }
    }

    /// <inheritdoc />
    public Task<int> DeleteJobsFinishedBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var deleted = 0;
        foreach (var (jobId, steps) in _jobs)
        {
            lock (steps)
            {
                if (steps.Count > 0 && steps.Max(s => s.FinishedAt) < cutoff && _jobs.TryRemove(new KeyValuePair<string, List<(string, string, DateTimeOffset)>>(jobId, steps)))
                {
                    deleted += steps.Count;
                }
            }
        }

        return Task.FromResult(deleted);
    }
}

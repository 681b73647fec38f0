using System.Collections.Concurrent;

namespace Bus.Steps;

/// <summary>A step store in process memory: steps survive redeliveries and retries, not a process restart.</summary>
public sealed class InMemoryStepStore : IStepStore
{
    private readonly ConcurrentDictionary<string, List<(string Step, string Result)>> _jobs = new(StringComparer.Ordinal);

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
                steps.Add((stepName, resultJson));
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
}

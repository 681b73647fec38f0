using System.Collections.Concurrent;

namespace Bus.Jobs;

/// <summary>Where a job (a message being handled) stands.</summary>
public enum JobState
{
    /// <summary>A handler is working on it.</summary>
    Running,

    /// <summary>Handled successfully.</summary>
    Completed,

    /// <summary>The attempt failed; it may be retried.</summary>
    Failed,

    /// <summary>Released at a checkpoint (shutdown or time window) to continue later.</summary>
    Released,

    /// <summary>Dead-lettered.</summary>
    DeadLettered,
}

/// <summary>The progress of one job, as last reported with <see cref="IMessageContext.ReportProgressAsync"/>, and its
/// result, as recorded with <see cref="IMessageContext.RecordResultAsync{T}"/>.</summary>
/// <param name="MessageId">The job's message id.</param>
/// <param name="MessageType">Its wire name.</param>
/// <param name="State">Running, completed, ...</param>
/// <param name="Done">Units done.</param>
/// <param name="Total">Units in all.</param>
/// <param name="Attempt">The attempt that reported.</param>
/// <param name="UpdatedAt">When it last changed.</param>
/// <param name="ResultJson">The result the handler recorded, as JSON; null when none.</param>
public sealed record JobStatus(
    string MessageId, string MessageType, JobState State, long Done, long Total, int Attempt, DateTimeOffset UpdatedAt, string? ResultJson = null)
{
    /// <summary>Done / total, 0 to 1.</summary>
    public double Fraction => Total <= 0 ? 0 : Math.Clamp((double)Done / Total, 0, 1);

    /// <summary>The recorded result read as <typeparamref name="T"/> (web defaults of System.Text.Json unless
    /// <paramref name="options"/> are given); default when none was recorded.</summary>
    public T? ResultAs<T>(System.Text.Json.JsonSerializerOptions? options = null) =>
        ResultJson is null ? default : System.Text.Json.JsonSerializer.Deserialize<T>(ResultJson, options ?? new(System.Text.Json.JsonSerializerDefaults.Web));
}

/// <summary>Reads the status of jobs that reported progress or recorded a result, from the job status store: with a
/// durable store, jobs run on any host of the endpoint.</summary>
public interface IJobStatusQuery
{
    /// <summary>The status of the job with this message id, or null when it never reported progress or a result.</summary>
    Task<JobStatus?> GetAsync(string messageId, CancellationToken cancellationToken = default);

    /// <summary>Jobs running now that reported progress, at most <paramref name="max"/>.</summary>
    Task<IReadOnlyList<JobStatus>> RunningAsync(int max = 100, CancellationToken cancellationToken = default);
}

/// <summary>
/// Where job statuses are kept. The bus saves a job's status when its handler reports progress or records a result,
/// and again with its final state when the attempt ends. A store shared by the hosts of an endpoint (SQLite on one
/// machine; DynamoDB, Azure Tables or another shared store on several) lets any host answer for any job.
/// </summary>
public interface IJobStatusStore
{
    /// <summary>Saves (inserts or replaces) the status of <see cref="JobStatus.MessageId"/>.</summary>
    Task SaveAsync(JobStatus status, CancellationToken cancellationToken);

    /// <summary>The status of a job, or null.</summary>
    Task<JobStatus?> GetAsync(string messageId, CancellationToken cancellationToken);

    /// <summary>Statuses in <paramref name="state"/>, most recently updated first, at most <paramref name="max"/>.</summary>
    Task<IReadOnlyList<JobStatus>> ListAsync(JobState state, int max, CancellationToken cancellationToken);
}

/// <summary>Job statuses in this host's memory: running jobs, and the last 1,000 finished ones.</summary>
public sealed class InMemoryJobStatusStore : IJobStatusStore
{
    private const int FinishedKept = 1_000;
    private readonly ConcurrentDictionary<string, JobStatus> _jobs = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _finished = new();

    /// <inheritdoc />
    public Task SaveAsync(JobStatus status, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(status);
        _jobs[status.MessageId] = status;
        if (status.State != JobState.Running)
        {
            _finished.Enqueue(status.MessageId);
            while (_finished.Count > FinishedKept && _finished.TryDequeue(out var old))
            {
                if (_jobs.TryGetValue(old, out var s) && s.State != JobState.Running)
                {
                    _jobs.TryRemove(old, out _);
                }
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<JobStatus?> GetAsync(string messageId, CancellationToken cancellationToken) => Task.FromResult(_jobs.GetValueOrDefault(messageId));

    /// <inheritdoc />
    public Task<IReadOnlyList<JobStatus>> ListAsync(JobState state, int max, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        IReadOnlyList<JobStatus> found = _jobs.Values.Where(j => j.State == state).OrderByDescending(j => j.UpdatedAt).Take(max).ToList();
        return Task.FromResult(found);
    }
}

/// <summary>The status query over the configured store.</summary>
internal sealed class JobStatusQuery(IJobStatusStore store) : IJobStatusQuery
{
    public Task<JobStatus?> GetAsync(string messageId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(messageId);
        return store.GetAsync(messageId, cancellationToken);
    }

    public Task<IReadOnlyList<JobStatus>> RunningAsync(int max = 100, CancellationToken cancellationToken = default) =>
        store.ListAsync(JobState.Running, max, cancellationToken);
}

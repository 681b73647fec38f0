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

/// <summary>The progress of one job, as last reported with <see cref="IMessageContext.ReportProgressAsync"/>.</summary>
/// <param name="MessageId">The job's message id.</param>
/// <param name="MessageType">Its wire name.</param>
/// <param name="State">Running, completed, ...</param>
/// <param name="Done">Units done.</param>
/// <param name="Total">Units in all.</param>
/// <param name="Attempt">The attempt that reported.</param>
/// <param name="UpdatedAt">When it last changed.</param>
public sealed record JobStatus(string MessageId, string MessageType, JobState State, long Done, long Total, int Attempt, DateTimeOffset UpdatedAt)
{
    /// <summary>Done / total, 0 to 1.</summary>
    public double Fraction => Total <= 0 ? 0 : Math.Clamp((double)Done / Total, 0, 1);
}

/// <summary>Reads the progress of jobs that reported any, on this host.</summary>
public interface IJobStatusQuery
{
    /// <summary>The status of the job with this message id, or null when it never reported progress here.</summary>
    JobStatus? Get(string messageId);

    /// <summary>Jobs running now that reported progress.</summary>
    IReadOnlyList<JobStatus> Running();
}

/// <summary>Keeps the status of jobs that report progress (running ones, and the last 1,000 finished).</summary>
internal sealed class JobStatusTracker : IJobStatusQuery
{
    private const int FinishedKept = 1_000;
    private readonly ConcurrentDictionary<string, JobStatus> _jobs = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _finished = new();

    public JobStatus? Get(string messageId) => _jobs.GetValueOrDefault(messageId);

    public IReadOnlyList<JobStatus> Running() => _jobs.Values.Where(j => j.State == JobState.Running).ToList();

    private volatile bool _anyReported;

    /// <summary>Whether any job reported progress here: until one does, there is nothing to finish.</summary>
    public bool IsTracking => _anyReported;

    public void Report(JobStatus status)
    {
        _jobs[status.MessageId] = status;
        _anyReported = true;
    }

    public void Finish(string messageId, JobState state, DateTimeOffset at)
    {
        // Only jobs that reported progress are tracked: most messages never do, and skip the lookup.
        if (_anyReported && _jobs.TryGetValue(messageId, out var status))
        {
            _jobs[messageId] = status with { State = state, UpdatedAt = at };
            _finished.Enqueue(messageId);
            while (_finished.Count > FinishedKept && _finished.TryDequeue(out var old))
            {
                if (_jobs.TryGetValue(old, out var s) && s.State != JobState.Running)
                {
                    _jobs.TryRemove(old, out _);
                }
            }
        }
    }
}

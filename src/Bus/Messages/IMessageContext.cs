using Bus.Steps;

namespace Bus;

/// <summary>The message being handled and what a handler can do with it.</summary>
public interface IMessageContext
{
    /// <summary>The message id (stable across retries and redrives).</summary>
    string MessageId { get; }

    /// <summary>The message's wire name.</summary>
    string MessageType { get; }

    /// <summary>All headers as received.</summary>
    IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>The correlation id; messages sent while handling inherit it.</summary>
    string CorrelationId { get; }

    /// <summary>The id of the message that caused this one, if any.</summary>
    string? CausationId { get; }

    /// <summary>Which attempt this is (1 on the first delivery).</summary>
    int Attempt { get; }

    /// <summary>The queue the message came from.</summary>
    string Queue { get; }

    /// <summary>The bus; sends through it inherit correlation and sticky headers.</summary>
    IBus Bus { get; }

    /// <summary>Cancelled when the lease is lost, the max runtime is reached, or the host stops and the shutdown
    /// timeout has passed.</summary>
    CancellationToken CancellationToken { get; }

    /// <summary>Memoised steps of this job: a finished step is not run again on a retry or redelivery.</summary>
    IStepRunner Steps { get; }

    /// <summary>Dead-letters the message now with <paramref name="reason"/>, without retries. Does not return: it
    /// throws to end the handler.</summary>
    Task FailAsync(string reason);

    /// <summary>Extends the lease to <paramref name="duration"/> from now (within the transport's maximum).</summary>
    Task ExtendLeaseAsync(TimeSpan duration);

    /// <summary>A safe point of a long job: when the host is stopping or the job's time window has closed, the job
    /// is released (without counting a failed attempt) and this call does not return; otherwise it returns at once.
    /// Finished steps are kept.</summary>
    Task CheckpointAsync();

    /// <summary>Reports progress: logged, saved in the job status store for <see cref="Jobs.IJobStatusQuery"/>, and
    /// measured on the Meter.</summary>
    Task ReportProgressAsync(long done, long total);

    /// <summary>Records the job's result (serialized as JSON with the bus's options) in the job status store, where
    /// <see cref="Jobs.IJobStatusQuery"/> returns it (<see cref="Jobs.JobStatus.ResultAs{T}"/>) from any host sharing the
    /// store. The last result recorded stands; it is kept with the job's final state.</summary>
    Task RecordResultAsync<T>(T result);
}

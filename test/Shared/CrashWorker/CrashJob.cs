namespace Bus.CrashTesting;

/// <summary>A job of the crash test: <paramref name="Steps"/> memoised steps of <paramref name="StepMilliseconds"/> each.</summary>
/// <param name="Number">The job's number, 1 to the number of jobs enqueued.</param>
/// <param name="Steps">How many steps it runs.</param>
/// <param name="StepMilliseconds">How long each step works.</param>
[MessageName("crash-test.job")]
public sealed record CrashJob(int Number, int Steps, int StepMilliseconds) : ICommand;

/// <summary>
/// An append-only log, shared by every worker process, of handler starts, step executions and job completions, so the
/// crash test can count what ran and what ran twice. Each row is committed before the work it records.
/// </summary>
public interface IExecutionLog
{
    /// <summary>Records that a job's handler started, as attempt <paramref name="attempt"/>.</summary>
    Task RecordStartAsync(int job, int attempt, CancellationToken cancellationToken);

    /// <summary>Records that a step started, and whether the step store already held it as finished.</summary>
    Task RecordStepAsync(int job, string step, int attempt, bool alreadyFinished, CancellationToken cancellationToken);

    /// <summary>Records that a job's handler finished (before its message is completed).</summary>
    Task RecordDoneAsync(int job, int attempt, CancellationToken cancellationToken);
}

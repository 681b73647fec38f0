namespace Bus.PostgreSql.CrashWorker;

/// <summary>A job of the crash test: <paramref name="Steps"/> memoised steps of <paramref name="StepMilliseconds"/> each.</summary>
/// <param name="Number">The job's number, 1 to the number of jobs enqueued.</param>
/// <param name="Steps">How many steps it runs.</param>
/// <param name="StepMilliseconds">How long each step works.</param>
[MessageName("crash-test.job")]
public sealed record CrashJob(int Number, int Steps, int StepMilliseconds) : ICommand;

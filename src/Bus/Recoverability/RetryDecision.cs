using Bus.Jobs;
using Bus.Pipeline;
using Microsoft.Extensions.Logging;

namespace Bus.Recoverability;

/// <summary>
/// Turns a failed handling attempt into an outcome, by the message type's <see cref="RetryPolicy"/>: a lost lease is
/// left alone; <see cref="IMessageContext.FailAsync"/> dead-letters; a checkpoint or a shutdown releases without
/// counting an attempt; a non-retryable exception dead-letters; the last attempt (or one past its max runtime without
/// attempts left) dead-letters; anything else is retried after the policy's delay (at once for immediate retries).
/// </summary>
internal sealed class RetryDecision(ILoggerFactory loggers)
{
    private readonly ILogger _log = loggers.CreateLogger("Bus");

    /// <summary>The outcome of an attempt that ended with <paramref name="exception"/> (or the decision the handler
    /// recorded).</summary>
    public Outcome Decide(IncomingContext context, Exception exception)
    {
        var renewer = context.Renewer;
        if (renewer.IsLeaseLost)
        {
            _log.LogWarning("Handler of {MessageId} ({MessageType}) ended after its lease was lost; it is not settled here and will be delivered again.",
                context.MessageId, context.MessageType);
            return Outcome.LeaseLost("the lease was lost while the handler ran");
        }

        switch (exception)
        {
            case FailNowException failNow:
                return Outcome.DeadLetter(failNow.Message);

            case CheckpointReleaseException checkpoint:
                _log.LogInformation("Job {MessageId} ({MessageType}) {Reason}; it resumes in {ResumeAfter}.",
                    context.MessageId, context.MessageType, checkpoint.Message, checkpoint.ResumeAfter);
                return Outcome.Release(checkpoint.ResumeAfter, checkpoint.Message);

            case OperationCanceledException when context.HardStop.IsCancellationRequested && !renewer.IsRuntimeExceeded:
                _log.LogWarning("Handler of {MessageId} ({MessageType}) was cancelled by shutdown; released for another worker.",
                    context.MessageId, context.MessageType);
                return Outcome.Release(TimeSpan.Zero, "cancelled by shutdown");
        }

        var retry = context.Handling!.Retry;
        var attempt = context.Attempt;
        var overRuntime = renewer.IsRuntimeExceeded ? $"Exceeded its max runtime of {renewer.Profile.MaxRuntime}" : null;
        if (overRuntime is null && !retry.IsRetryable(exception))
        {
            _log.LogError(exception, "Handler of {MessageId} ({MessageType}) failed with a non-retryable {ExceptionType}; dead-lettering.",
                context.MessageId, context.MessageType, exception.GetType().Name);
            return Outcome.DeadLetter($"Non-retryable {exception.GetType().Name}: {exception.Message}", exception).WithJobState(JobState.Failed);
        }

        if (!retry.HasAttemptsLeft(attempt))
        {
            _log.LogError(exception, "Handler of {MessageId} ({MessageType}) failed attempt {Attempt} of {MaxAttempts}; dead-lettering.",
                context.MessageId, context.MessageType, attempt, retry.MaxAttempts);
            return Outcome.DeadLetter($"Attempts exhausted ({attempt} of {retry.MaxAttempts}): {overRuntime ?? $"{exception.GetType().Name}: {exception.Message}"}", exception)
                .WithJobState(JobState.Failed);
        }

        var delay = retry.DelayAfter(attempt);
        _log.LogWarning(exception, "Handler of {MessageId} ({MessageType}) failed attempt {Attempt} of {MaxAttempts}{Why}; retrying in {Delay}.",
            context.MessageId, context.MessageType, attempt, retry.MaxAttempts, overRuntime is null ? string.Empty : $" ({overRuntime})", delay);
        return Outcome.Retry(delay, overRuntime ?? $"{exception.GetType().Name}: {exception.Message}", exception);
    }

    /// <summary>The outcome of an attempt whose messages sent regardless of its outcome could not be sent: it is tried
    /// again (its own outcome not applied); the last attempt dead-letters.</summary>
    public Outcome AfterSendsFailed(IncomingContext context, Exception exception)
    {
        var retry = context.Handling!.Retry;
        var attempt = context.Attempt;
        if (!retry.HasAttemptsLeft(attempt))
        {
            return Outcome.DeadLetter(
                $"Attempts exhausted ({attempt} of {retry.MaxAttempts}); the messages the handler sent regardless of its outcome could not be sent: {exception.Message}",
                exception);
        }

        return Outcome.Retry(retry.DelayAfter(attempt), "the messages the handler sent regardless of its outcome could not be sent", exception);
    }
}

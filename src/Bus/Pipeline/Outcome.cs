using Bus.Jobs;

namespace Bus.Pipeline;

/// <summary>How the handling of one delivery ends, as the <see cref="IIncomingStep"/> that decided returns it.</summary>
public enum OutcomeKind
{
    /// <summary>Handled: the message is deleted from its queue.</summary>
    Complete,

    /// <summary>A failed attempt: the message is visible again after <see cref="Outcome.Delay"/>, and the attempt
    /// counts towards the retry policy's maximum.</summary>
    Retry,

    /// <summary>Given back without counting an attempt (a delay hop, a closed time window, a checkpoint, shutdown);
    /// visible again after <see cref="Outcome.Delay"/>.</summary>
    Release,

    /// <summary>Moved to the dead-letter queue with <see cref="Outcome.Reason"/>.</summary>
    DeadLetter,

    /// <summary>Nothing to settle: the lease was lost (another consumer may hold the message now), so this host does
    /// not touch it; the transport delivers it again.</summary>
    LeaseLost,
}

/// <summary>
/// The outcome of one delivery: what the settler does with the received message. The built-in steps return one of
/// these; a user step (<see cref="IIncomingStep"/>) may return one instead of calling the next step, e.g.
/// <see cref="Complete"/> for a message its inbox has seen before.
/// </summary>
public sealed class Outcome
{
    private Outcome(OutcomeKind kind, TimeSpan delay, string? reason, Exception? exception, JobState? jobState)
    {
        Kind = kind;
        Delay = delay;
        Reason = reason;
        Exception = exception;
        JobState = jobState;
    }

    /// <summary>Handled: delete the message.</summary>
    public static Outcome Complete { get; } = new(OutcomeKind.Complete, TimeSpan.Zero, null, null, null);

    /// <summary>What happens to the message.</summary>
    public OutcomeKind Kind { get; }

    /// <summary>For <see cref="OutcomeKind.Retry"/> and <see cref="OutcomeKind.Release"/>: how long the message stays
    /// invisible (capped at the transport's maximum delay). Zero otherwise.</summary>
    public TimeSpan Delay { get; }

    /// <summary>Why, in words (logged, kept with a dead letter, told to observers); null for
    /// <see cref="OutcomeKind.Complete"/>.</summary>
    public string? Reason { get; }

    /// <summary>The exception that led to it, if any (kept with a dead letter).</summary>
    public Exception? Exception { get; }

    /// <summary>The state a job that reported progress or a result is saved with (null: as the outcome implies).</summary>
    internal JobState? JobState { get; }

    /// <summary>A failed attempt, tried again after <paramref name="delay"/>; the attempt counts.</summary>
    public static Outcome Retry(TimeSpan delay, string reason, Exception? exception = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return new(OutcomeKind.Retry, delay < TimeSpan.Zero ? TimeSpan.Zero : delay, reason, exception, Jobs.JobState.Failed);
    }

    /// <summary>Given back, visible again after <paramref name="delay"/>, without counting an attempt.</summary>
    public static Outcome Release(TimeSpan delay, string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return new(OutcomeKind.Release, delay < TimeSpan.Zero ? TimeSpan.Zero : delay, reason, null, Jobs.JobState.Released);
    }

    /// <summary>Dead-lettered now with <paramref name="reason"/> (and the exception's type, message and stack trace).</summary>
    public static Outcome DeadLetter(string reason, Exception? exception = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return new(OutcomeKind.DeadLetter, TimeSpan.Zero, reason, exception, Jobs.JobState.DeadLettered);
    }

    /// <summary>Nothing to settle: the lease was lost.</summary>
    internal static Outcome LeaseLost(string reason) => new(OutcomeKind.LeaseLost, TimeSpan.Zero, reason, null, null);

    /// <summary>The same outcome, saving a job's status as <paramref name="state"/>.</summary>
    internal Outcome WithJobState(JobState state) => new(Kind, Delay, Reason, Exception, state);

    /// <inheritdoc />
    public override string ToString() => Reason is null ? Kind.ToString() : $"{Kind}: {Reason}";
}

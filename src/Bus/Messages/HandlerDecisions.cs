namespace Bus;

/// <summary>
/// Thrown by <see cref="IMessageContext.FailAsync"/> to end the handler: the message is dead-lettered with the reason,
/// without retries. The decision is recorded on the message's context before this is thrown, so a handler that catches
/// it (for example in a <c>catch (Exception)</c> around its work) still has its message dead-lettered; messages it sent
/// are not sent, except those sent with <see cref="DeliveryOptions.EvenIfHandlerFails"/>.
/// </summary>
public sealed class FailNowException : Exception
{
    internal FailNowException(string reason)
        : base(reason)
    {
    }
}

/// <summary>
/// Thrown by <see cref="IMessageContext.CheckpointAsync"/> (and by a memoised step, which checkpoints first) when the
/// host is stopping or the job's time window has closed: the job is released without counting a failed attempt and
/// resumes later, skipping its finished steps. The decision is recorded on the message's context before this is thrown,
/// so a handler that catches it still has its job released, not completed.
/// </summary>
public sealed class CheckpointReleaseException : Exception
{
    internal CheckpointReleaseException(TimeSpan resumeAfter, string why)
        : base($"Released at a checkpoint: {why}.")
    {
        ResumeAfter = resumeAfter;
    }

    /// <summary>How long after the release the job resumes (zero at shutdown; the time until the window opens).</summary>
    public TimeSpan ResumeAfter { get; }
}

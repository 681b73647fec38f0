namespace Bus.Transports;

/// <summary>Access to the dead letters of an endpoint queue.</summary>
public interface IDeadLetterQueue
{
    /// <summary>Lists up to <paramref name="maxCount"/> dead letters of <paramref name="queue"/> without removing them.</summary>
    Task<IReadOnlyList<DeadLetter>> PeekAsync(string queue, int maxCount, CancellationToken cancellationToken);

    /// <summary>Moves dead letters back to <paramref name="queue"/> with their identity (message id, body, original
    /// headers); the failure headers are removed and the attempt count starts again. Null ids means all.</summary>
    /// <returns>How many were moved.</returns>
    Task<int> RedriveAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken);

    /// <summary>Deletes dead letters for good. Null ids means all.</summary>
    /// <returns>How many were deleted.</returns>
    Task<int> PurgeAsync(string queue, IReadOnlyCollection<string>? messageIds, CancellationToken cancellationToken);
}

/// <summary>A dead-lettered message: the original message and why it failed.</summary>
/// <param name="Message">The original body and headers, without the failure headers.</param>
/// <param name="Failure">Why and when it was dead-lettered.</param>
public sealed record DeadLetter(TransportMessage Message, FailureDetails Failure);

using System.Globalization;

namespace Bus.Transports;

/// <summary>Why a message was dead-lettered. Travels as <c>bus-failure-*</c> headers next to the original ones.</summary>
/// <param name="Reason">A human-readable reason, e.g. "Attempts exhausted (5 of 5)".</param>
/// <param name="ExceptionType">The exception's full type name, when an exception caused it.</param>
/// <param name="ExceptionMessage">The exception's message.</param>
/// <param name="StackTrace">The exception's stack trace (truncated to 8,000 characters).</param>
/// <param name="Attempts">Attempts made.</param>
/// <param name="SourceQueue">The queue the message was received from.</param>
/// <param name="FailedAt">When it was dead-lettered.</param>
public sealed record FailureDetails(
    string Reason,
    string? ExceptionType,
    string? ExceptionMessage,
    string? StackTrace,
    int Attempts,
    string SourceQueue,
    DateTimeOffset FailedAt)
{
    private const int MaxStackTraceLength = 8_000;

    /// <summary>Builds failure details from an exception.</summary>
    public static FailureDetails From(string reason, Exception? exception, int attempts, string sourceQueue, DateTimeOffset failedAt)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        var stack = exception?.ToString();
        if (stack is { Length: > MaxStackTraceLength })
        {
            stack = stack[..MaxStackTraceLength];
        }

        return new FailureDetails(reason, exception?.GetType().FullName, exception?.Message, stack, attempts, sourceQueue, failedAt);
    }

    /// <summary>The original message with the failure headers added.</summary>
    public TransportMessage AddTo(TransportMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var headers = new List<KeyValuePair<string, string>>
        {
            new(MessageHeaders.FailureReason, Reason),
            new(MessageHeaders.FailureAttempts, Attempts.ToString(CultureInfo.InvariantCulture)),
            new(MessageHeaders.FailureSourceQueue, SourceQueue),
            new(MessageHeaders.FailureFailedAt, FailedAt.ToString("O", CultureInfo.InvariantCulture)),
        };
        if (ExceptionType is not null)
        {
            headers.Add(new(MessageHeaders.FailureExceptionType, ExceptionType));
        }

        if (ExceptionMessage is not null)
        {
            headers.Add(new(MessageHeaders.FailureExceptionMessage, ExceptionMessage));
        }

        if (StackTrace is not null)
        {
            headers.Add(new(MessageHeaders.FailureStackTrace, StackTrace));
        }

        return message.WithHeaders(headers);
    }

    /// <summary>Splits a dead-lettered message into the original message and its failure details.</summary>
    public static DeadLetter Read(TransportMessage deadLettered, string fallbackQueue)
    {
        ArgumentNullException.ThrowIfNull(deadLettered);
        var h = deadLettered.Headers;
        string? Get(string name) => h.TryGetValue(name, out var v) ? v : null;
        var attempts = int.TryParse(Get(MessageHeaders.FailureAttempts), NumberStyles.Integer, CultureInfo.InvariantCulture, out var a) ? a : 0;
        var failedAt = DateTimeOffset.TryParse(Get(MessageHeaders.FailureFailedAt), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at)
            ? at
            : DateTimeOffset.MinValue;
        var details = new FailureDetails(
            Get(MessageHeaders.FailureReason) ?? "Unknown (no failure headers)",
            Get(MessageHeaders.FailureExceptionType),
            Get(MessageHeaders.FailureExceptionMessage),
            Get(MessageHeaders.FailureStackTrace),
            attempts,
            Get(MessageHeaders.FailureSourceQueue) ?? fallbackQueue,
            failedAt);
        return new DeadLetter(deadLettered.WithoutHeaders(MessageHeaders.IsFailureHeader), details);
    }
}

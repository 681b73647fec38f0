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

    /// <summary>The original message with the failure headers added. The attempts, source queue and time are left
    /// out when they are 0, empty and <see cref="DateTimeOffset.MinValue"/> (as <see cref="FitTo"/> leaves them when
    /// nothing else fits).</summary>
    public TransportMessage AddTo(TransportMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var headers = new List<KeyValuePair<string, string>> { new(MessageHeaders.FailureReason, Reason) };
        if (Attempts != 0)
        {
            headers.Add(new(MessageHeaders.FailureAttempts, Attempts.ToString(CultureInfo.InvariantCulture)));
        }

        if (SourceQueue.Length > 0)
        {
            headers.Add(new(MessageHeaders.FailureSourceQueue, SourceQueue));
        }

        if (FailedAt != DateTimeOffset.MinValue)
        {
            headers.Add(new(MessageHeaders.FailureFailedAt, FailedAt.ToString("O", CultureInfo.InvariantCulture)));
        }

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

    /// <summary>
    /// These details trimmed until <paramref name="message"/> with them added fits in <paramref name="limit"/> bytes as
    /// the transport measures it (<paramref name="sizeOf"/>), so that a dead letter always lands with at least its
    /// reason. Given up in this order, each first shortened, then dropped: the stack trace, the exception message, the
    /// exception type; then the time, source queue and attempts; last the reason is shortened (never dropped). Null
    /// when not even a one-character reason fits.
    /// </summary>
    /// <param name="message">The message to dead-letter, without failure headers.</param>
    /// <param name="limit">The largest dead letter the dead-letter queue accepts.</param>
    /// <param name="sizeOf">The size of a message as the transport counts it (its wire encoding).</param>
    public FailureDetails? FitTo(TransportMessage message, long limit, Func<TransportMessage, long> sizeOf)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(sizeOf);
        var details = this;
        long Over(FailureDetails d) => sizeOf(d.AddTo(message)) - limit;
        var over = Over(details);
        if (over <= 0)
        {
            return details;
        }

        // Each step shortens one field by what is over (UTF-8 and escaping can make a character cost several bytes,
        // so a step may run again), or drops it when that would leave nothing. A step that gained nothing (the transport
        // caps the field anyway) drops the field, or halves the reason, so that every step makes progress.
        for (var guard = 0; over > 0 && guard < 200; guard++)
        {
            var before = details;
            details = details switch
            {
                { StackTrace: { } trace } => details with { StackTrace = Shorten(trace, over) },
                { ExceptionMessage: { } text } => details with { ExceptionMessage = Shorten(text, over) },
                { ExceptionType: { } type } => details with { ExceptionType = Shorten(type, over) },
                _ when details.FailedAt != DateTimeOffset.MinValue => details with { FailedAt = DateTimeOffset.MinValue },
                _ when details.SourceQueue.Length > 0 => details with { SourceQueue = string.Empty },
                _ when details.Attempts != 0 => details with { Attempts = 0 },
                _ when details.Reason.Length > 1 => details with { Reason = Shorten(details.Reason, over) ?? details.Reason[..1] },
                _ => details,
            };
            var next = Over(details);
            if (next >= over)
            {
                details = before switch
                {
                    { StackTrace: not null } => before with { StackTrace = null },
                    { ExceptionMessage: not null } => before with { ExceptionMessage = null },
                    { ExceptionType: not null } => before with { ExceptionType = null },
                    _ when details.Reason.Length > 1 && before.Reason.Length > 1 => details with { Reason = before.Reason[..(before.Reason.Length / 2)] },
                    _ => details,
                };
                next = Over(details);
                if (next >= over && details.Reason.Length <= 1 && details.StackTrace is null && details.ExceptionMessage is null && details.ExceptionType is null
                    && details.Attempts == 0 && details.SourceQueue.Length == 0 && details.FailedAt == DateTimeOffset.MinValue)
                {
                    return null; // nothing left to give up
                }
            }

            over = next;
        }

        return over <= 0 ? details : null;
    }

    /// <summary>The text shortened by at least <paramref name="bytes"/> characters plus a marker, or null when nothing
    /// useful would remain.</summary>
    private static string? Shorten(string text, long bytes)
    {
        const string marker = "…";
        var keep = text.Length - (int)Math.Min(int.MaxValue, bytes) - (marker.Length * 3) - 1;
        return keep <= 0 ? null : text[..keep] + marker;
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

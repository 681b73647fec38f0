namespace Bus;

/// <summary>
/// Handles messages of <typeparamref name="TMessage"/> several at a time: up to the batch size, or what arrived within
/// the batch window, whichever comes first (<c>ConfigureHandling&lt;T&gt;(h =&gt; h.Batch(size, window))</c>; default
/// 10 messages or 1 second). Each message is settled on its own: mark the ones that failed with
/// <see cref="BatchItem{TMessage}.Fail"/> or <see cref="BatchItem{TMessage}.DeadLetter"/>; the rest complete when the
/// handler returns. A handler that throws fails every message it did not mark.
/// </summary>
/// <typeparam name="TMessage">The message type.</typeparam>
public interface IHandleBatches<TMessage>
    where TMessage : class
{
    /// <summary>Handles one batch. <paramref name="cancellationToken"/> is cancelled when the lease of any message of the
    /// batch is lost, its max runtime is reached, or the host stops hard.</summary>
    Task HandleAsync(IReadOnlyList<BatchItem<TMessage>> batch, CancellationToken cancellationToken);
}

/// <summary>One message of a batch, and how its handling ended.</summary>
/// <typeparam name="TMessage">The message type.</typeparam>
public sealed class BatchItem<TMessage>
    where TMessage : class
{
    internal BatchItem(TMessage message, IMessageContext context)
    {
        Message = message;
        MessageId = context.MessageId;
        Attempt = context.Attempt;
        Headers = context.Headers;
    }

    /// <summary>The message.</summary>
    public TMessage Message { get; }

    /// <summary>Its id.</summary>
    public string MessageId { get; }

    /// <summary>Which attempt this is for this message (1 on its first delivery).</summary>
    public int Attempt { get; }

    /// <summary>Its headers.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>The failure recorded with <see cref="Fail"/>, if any.</summary>
    public Exception? Failure { get; private set; }

    /// <summary>The reason recorded with <see cref="DeadLetter"/>, if any.</summary>
    public string? DeadLetterReason { get; private set; }

    /// <summary>This message failed: it is retried as its retry policy says (a non-retryable exception dead-letters
    /// it); the other messages of the batch are not affected.</summary>
    public void Fail(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        Failure ??= exception;
    }

    /// <summary>This message is dead-lettered now with <paramref name="reason"/>, without retries.</summary>
    public void DeadLetter(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        DeadLetterReason ??= reason;
    }
}

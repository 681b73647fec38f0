namespace Bus;

/// <summary>Handles messages of type <typeparamref name="TMessage"/>. Resolved from a DI scope per message.</summary>
public interface IHandleMessages<in TMessage>
    where TMessage : class
{
    /// <summary>Handles one message. Throw to fail the attempt (it is retried by the retry policy); use
    /// <see cref="IMessageContext.FailAsync"/> to dead-letter at once.</summary>
    Task HandleAsync(TMessage message, IMessageContext context);
}

namespace Bus.SystemMessages;

/// <summary>
/// A system message that names itself: an id the sender gives the event and every redelivery of it keeps (for an
/// EventBridge event, its <c>id</c>), unlike the queue's message id, which differs between two copies of one event.
/// The bus keys memoised steps (<see cref="IMessageContext.Steps"/>) and workflow history by it, so two copies of one
/// event never run a step or a workflow handler twice.
/// </summary>
public interface ISystemMessageIdentity
{
    /// <summary>The event's own id; empty when the payload carried none (the queue's message id is used then).</summary>
    string SystemMessageId { get; }

    /// <summary>When the event happened, when the payload says (for an EventBridge event, its <c>time</c>); bounds how long
    /// a workflow retries an event that matches no instance yet.</summary>
    DateTimeOffset? OccurredAt { get; }
}

namespace Bus.Pipeline;

/// <summary>Runs the rest of the incoming steps (ending with the handlers) and returns how the delivery ends.</summary>
/// <param name="context">The delivery.</param>
public delegate ValueTask<Outcome> IncomingStepDelegate(IncomingContext context);

/// <summary>
/// A step of the receive path, added with <c>bus.UseIncoming&lt;TStep&gt;()</c>. User steps run in the order added,
/// after the message is deserialized and inside its DI scope, before the handlers: a step is resolved from that scope for
/// every message, so it can share scoped services (e.g. a <c>DbContext</c>) with the handlers.
/// </summary>
/// <remarks>
/// A step either calls <c>next(context)</c> and returns (or inspects) its outcome, or returns an <see cref="Outcome"/>
/// of its own without calling it, e.g. <see cref="Outcome.Complete"/> for a message id an inbox has seen. An exception
/// thrown by a step is a failed attempt, retried by the retry policy like a handler's. Messages sent through
/// <see cref="IBus"/> during the step are held with the handlers' and sent after the handlers succeed; a step that
/// returns without calling the next step sends none of them. The result is
/// a <see cref="ValueTask{TResult}"/> (a step that finishes without waiting allocates nothing): await
/// the next step's result once.
/// </remarks>
/// <example>
/// An inbox that drops a message id it has handled:
/// <code>
/// public sealed class InboxStep(AppDb db) : IIncomingStep
/// {
///     public async ValueTask&lt;Outcome&gt; InvokeAsync(IncomingContext context, IncomingStepDelegate next)
///     {
///         if (await db.Inbox.AnyAsync(m =&gt; m.Id == context.MessageId, context.CancellationToken))
///         {
///             return Outcome.Complete;
///         }
///
///         db.Inbox.Add(new InboxEntry(context.MessageId));
///         return await next(context); // the handlers save db, the inbox entry with them
///     }
/// }
/// </code>
/// </example>
public interface IIncomingStep
{
    /// <summary>Does the step's work on <paramref name="context"/>; calls <paramref name="next"/> to go on.</summary>
    /// <param name="context">The delivery: message, headers, attempt, the message's scope and context.</param>
    /// <param name="next">The remaining steps.</param>
    /// <returns>How the delivery ends.</returns>
    ValueTask<Outcome> InvokeAsync(IncomingContext context, IncomingStepDelegate next);
}

using System.Runtime.CompilerServices;
using Bus.Pipeline;

namespace Bus.PostgreSql.Transport;

/// <summary>
/// The transactional outbox, as an incoming step: while the handlers of a message received from a
/// <see cref="PostgreSqlTransport"/> run (and their held sends are flushed), the delivery is the current one, so the
/// transport's <see cref="PostgreSqlTransport.SendAsync"/> hands what they send to the delivery, which writes it in the
/// transaction that completes (or otherwise settles) the message. The sent messages then exist exactly when the
/// handled message is gone: a crash in between leaves neither, and the retry sends them again.
/// </summary>
internal sealed class TransactionalSendsStep : IIncomingStep
{
    // Keyed by the received message's headers, the one object of the delivery an incoming step can see; weak, so a
    // delivery that is never settled (a lost lease) is not kept.
    private static readonly ConditionalWeakTable<IReadOnlyDictionary<string, string>, PostgreSqlReceivedMessage> Deliveries = new();
    private static readonly AsyncLocal<PostgreSqlReceivedMessage?> CurrentDelivery = new();

    /// <summary>The delivery whose handlers run in this async flow, or null.</summary>
    public static PostgreSqlReceivedMessage? Current => CurrentDelivery.Value;

    /// <summary>Makes <paramref name="delivery"/> findable by its headers while it is being handled.</summary>
    public static void Track(PostgreSqlReceivedMessage delivery) => Deliveries.AddOrUpdate(delivery.Message.Headers, delivery);

    public async ValueTask<Outcome> InvokeAsync(IncomingContext context, IncomingStepDelegate next)
    {
        if (!Deliveries.TryGetValue(context.Headers, out var delivery))
        {
            return await next(context).ConfigureAwait(false); // another transport's message
        }

        CurrentDelivery.Value = delivery; // restored when this method returns
        return await next(context).ConfigureAwait(false);
    }
}

using Bus.Transports;

namespace Bus.Pipeline;

/// <summary>The <see cref="IBus"/>: inside a handler, sends are held until the handler succeeds; outside, they go at once.</summary>
internal sealed class MessageBus(MessageSender sender) : IBus
{
    public Task SendAsync<TCommand>(TCommand command, DeliveryOptions? options = null, CancellationToken cancellationToken = default)
        where TCommand : class => DispatchAsync(command, MessageKind.Command, options, cancellationToken);

    public Task PublishAsync<TEvent>(TEvent @event, DeliveryOptions? options = null, CancellationToken cancellationToken = default)
        where TEvent : class => DispatchAsync(@event, MessageKind.Event, options, cancellationToken);

    private Task DispatchAsync(object message, MessageKind kind, DeliveryOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var handling = MessageContext.Current;
        var (destination, built, visibleAt) = sender.Build(message, kind, options, handling);
        if (handling is { IsOpenForSends: true })
        {
            var outgoing = new OutgoingMessage(destination, built, visibleAt);
            if (options is { EvenIfHandlerFails: true })
            {
                handling.EnlistRegardless(outgoing);
            }
            else
            {
                handling.Enlist(outgoing);
            }

            return Task.CompletedTask;
        }

        return sender.SendAsync(destination, built, visibleAt, cancellationToken);
    }
}

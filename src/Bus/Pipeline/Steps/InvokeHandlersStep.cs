namespace Bus.Pipeline.Steps;

/// <summary>
/// Calls every handler and workflow of the message's type, one after the other, each resolved from the message's scope.
/// A decision a handler recorded on its context (<see cref="IMessageContext.FailAsync"/>, a checkpoint release) ends the
/// attempt even when the handler swallowed the exception that carried it: it is thrown again here, for
/// <see cref="AttemptStep"/> to apply.
/// </summary>
internal sealed class InvokeHandlersStep : IIncomingStep
{
    public async ValueTask<Outcome> InvokeAsync(IncomingContext context, IncomingStepDelegate next)
    {
        var handler = context.Handler!;
        var services = context.Services;
        var message = context.Message;
        foreach (var invoker in context.Handling!.Invokers)
        {
            await invoker.InvokeAsync(message, handler, services).ConfigureAwait(false);
        }

        if (handler.Decision is { } decided)
        {
            throw decided;
        }

        return await next(context).ConfigureAwait(false);
    }
}

using Microsoft.Extensions.DependencyInjection;

namespace Bus.Pipeline.Steps;

/// <summary>Opens the message's DI scope: user steps and handlers are resolved from it, so they share its scoped
/// services; it is disposed once the handlers and the flush of held sends are done.</summary>
internal sealed class ScopeStep(IServiceScopeFactory scopes) : IIncomingStep
{
    public async ValueTask<Outcome> InvokeAsync(IncomingContext context, IncomingStepDelegate next)
    {
        var scope = scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            context.ScopeServices = scope.ServiceProvider;
            try
            {
                return await next(context).ConfigureAwait(false);
            }
            finally
            {
                context.ScopeServices = null;
            }
        }
    }
}

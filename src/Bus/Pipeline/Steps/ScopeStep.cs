using Microsoft.Extensions.DependencyInjection;

namespace Bus.Pipeline.Steps;

/// <summary>Opens the message's DI scope: user steps and handlers are resolved from it, so they share its scoped
/// services; it is disposed once the handlers and the flush of held sends are done.</summary>
internal sealed class ScopeStep(IServiceScopeFactory scopes) : IIncomingStep
{
    public async ValueTask<Outcome> InvokeAsync(IncomingContext context, IncomingStepDelegate next)
    {
        // A plain scope, disposed asynchronously when it can be (AsyncServiceScope would be boxed by ConfigureAwait).
        var scope = scopes.CreateScope();
        try
        {
            context.ScopeServices = scope.ServiceProvider;
            return await next(context).ConfigureAwait(false);
        }
        finally
        {
            context.ScopeServices = null;
            if (scope is IAsyncDisposable asyncScope)
            {
                await asyncScope.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                scope.Dispose();
            }
        }
    }
}

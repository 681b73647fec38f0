using Microsoft.Extensions.DependencyInjection;

namespace Bus.Pipeline.Steps;

/// <summary>A step the application added with <c>bus.UseIncoming&lt;TStep&gt;()</c>, resolved from the message's scope
/// for every message.</summary>
internal sealed class UserStep<TStep> : IIncomingStep
    where TStep : class, IIncomingStep
{
    public ValueTask<Outcome> InvokeAsync(IncomingContext context, IncomingStepDelegate next) =>
        context.Services.GetRequiredService<TStep>().InvokeAsync(context, next);
}

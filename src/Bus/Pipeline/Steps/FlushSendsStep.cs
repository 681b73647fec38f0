namespace Bus.Pipeline.Steps;

/// <summary>The handlers succeeded: what they sent (held until now) goes out, under the handler's token. A failure to
/// send fails the attempt, which is retried; nothing is lost.</summary>
internal sealed class FlushSendsStep : IIncomingStep
{
    public async ValueTask<Outcome> InvokeAsync(IncomingContext context, IncomingStepDelegate next)
    {
        var handler = context.Handler!;
        handler.IsOpenForSends = false;
        await handler.FlushAsync().ConfigureAwait(false);
        return await next(context).ConfigureAwait(false);
    }
}

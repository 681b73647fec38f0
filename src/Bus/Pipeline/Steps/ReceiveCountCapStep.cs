namespace Bus.Pipeline.Steps;

/// <summary>
/// The crash net: a message received more times than its retry policy's <see cref="Recoverability.RetryPolicy.ReceiveCountCap"/>
/// without being settled (its handler killed or stalled the process each time, so no attempt ever failed) is
/// dead-lettered before its handler runs again.
/// </summary>
internal sealed class ReceiveCountCapStep : IIncomingStep
{
    public ValueTask<Outcome> InvokeAsync(IncomingContext context, IncomingStepDelegate next)
    {
        var cap = context.Handling!.Retry.ReceiveCountCap;
        if (context.Attempt > cap)
        {
            return ValueTask.FromResult(Outcome.DeadLetter(
                $"Received {context.Attempt} times without being settled (RetryPolicy.MaxReceiveCount is {cap}): " +
                "its handler crashed or stalled its process each time, or the workers holding it were killed."));
        }

        return next(context);
    }
}

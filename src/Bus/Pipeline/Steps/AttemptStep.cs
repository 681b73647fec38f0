using Bus.Recoverability;
using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.Pipeline.Steps;

/// <summary>
/// Starts a handling attempt: the transport counts it (<see cref="Transports.IReceivedMessage.BeginAttemptAsync"/>; until
/// here a delivery costs no attempt where the transport counts at start), the handler's max runtime starts counting and
/// the delivery becomes the handlers' <see cref="MessageContext"/>
/// (also the ambient one, so an <see cref="IBus"/> injected anywhere holds its sends). A failure anywhere after this
/// step (a user step, a handler, the flush of held sends) ends the attempt here: what the handler sent is dropped, what
/// it sent with <see cref="DeliveryOptions.EvenIfHandlerFails"/> goes out, and <see cref="RetryDecision"/> turns the
/// failure (or the decision the handler recorded) into an outcome.
/// </summary>
internal sealed class AttemptStep(RetryDecision retry, ILoggerFactory loggers) : IIncomingStep
{
    private readonly ILogger _log = loggers.CreateLogger("Bus");

    /// <summary>How long a message waits when its attempt could not be recorded (the transport failed).</summary>
    private static readonly TimeSpan NotRecordedDelay = TimeSpan.FromSeconds(1);

    public async ValueTask<Outcome> InvokeAsync(IncomingContext context, IncomingStepDelegate next)
    {
        try
        {
            await context.Received.BeginAttemptAsync(context.HardStop).ConfigureAwait(false);
        }
        catch (LeaseLostException)
        {
            return Outcome.LeaseLost("the lease was lost before the handlers started");
        }
        catch (Exception ex)
        {
            _log.LogWarning(ex, "Could not record the start of attempt {Attempt} of message {MessageId}; it is released and tried again.",
                context.Attempt, context.MessageId);
            return Outcome.Release(NotRecordedDelay, "the transport could not record the start of the attempt");
        }

        var renewer = context.Renewer;
        renewer.BeginHandling(context.HardStop);
        var handler = context.BeginAttempt();

        // Not set back afterwards: an async method's changes to the execution context never reach its caller.
        MessageContext.Current = handler;
        try
        {
            return await next(context).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            handler.IsOpenForSends = false;
            handler.DiscardPending();
            if (!renewer.IsLeaseLost && !await SendRegardlessAsync(handler).ConfigureAwait(false))
            {
                // What the handler sent regardless of the outcome did not go out: the whole attempt is tried again.
                return retry.AfterSendsFailed(context, ex);
            }

            // A decision the handler made (FailAsync, a checkpoint) stands even when it threw something else after it.
            return retry.Decide(context, handler.Decision ?? ex);
        }
    }

    /// <summary>Sends what a failed attempt sent with <see cref="DeliveryOptions.EvenIfHandlerFails"/>; false when that
    /// failed (logged).</summary>
    private async Task<bool> SendRegardlessAsync(MessageContext handler)
    {
        try
        {
            await handler.FlushRegardlessAsync().ConfigureAwait(false);
            return true;
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "Messages that the handler of {MessageId} sent regardless of its outcome could not be sent.", handler.MessageId);
            return false;
        }
    }
}

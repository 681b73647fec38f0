using Microsoft.Extensions.Logging;

namespace Bus.Pipeline.Steps;

/// <summary>A message whose handlers run in a daily time window waits, released without counting an attempt, until the
/// window opens.</summary>
internal sealed class TimeWindowStep(TimeProvider time, ILoggerFactory loggers) : IIncomingStep
{
    private readonly ILogger _log = loggers.CreateLogger("Bus");

    public ValueTask<Outcome> InvokeAsync(IncomingContext context, IncomingStepDelegate next)
    {
        if (context.Handling!.Window is { } window && time.GetUtcNow() is var now && !window.IsOpen(now))
        {
            var opens = window.NextOpening(now);
            _log.LogInformation("Message {MessageId} ({MessageType}) arrived outside its window {Window}; deferred until {Opens}.",
                context.MessageId, context.MessageType, window, opens);
            return ValueTask.FromResult(Outcome.Release(opens - now, $"arrived outside its window {window}; deferred until {opens:O}"));
        }

        return next(context);
    }
}

using System.Globalization;
using Bus.Transports;

namespace Bus.Pipeline.Steps;

/// <summary>
/// A message due later than the transport can delay at once (e.g. past SQS's 15 minutes) carries its due time in a
/// header; until that time is (nearly) reached it is released for another hop, without counting an attempt.
/// </summary>
internal sealed class DelayHopStep(TimeProvider time) : IIncomingStep
{
    public ValueTask<Outcome> InvokeAsync(IncomingContext context, IncomingStepDelegate next)
    {
        if (context.Headers.TryGetValue(MessageHeaders.DeliverAt, out var value)
            && DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var due)
            && due - time.GetUtcNow() is var left && left > TimeSpan.FromSeconds(1))
        {
            return ValueTask.FromResult(Outcome.Release(left, $"due at {value}: waiting another delay hop"));
        }

        return next(context);
    }
}

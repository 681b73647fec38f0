using Bus.Serialization;

namespace Bus.Pipeline.Steps;

/// <summary>Reads the body as the resolved type (a system message was read when it was recognised); a body that cannot
/// be read is dead-lettered with the serializer's reason.</summary>
internal sealed class DeserializeStep(IMessageSerializer serializer) : IIncomingStep
{
    public ValueTask<Outcome> InvokeAsync(IncomingContext context, IncomingStepDelegate next)
    {
        if (context.HasMessage)
        {
            return next(context);
        }

        var type = context.Type!;
        object? message;
        try
        {
            message = serializer.Deserialize(context.Received.Message.Body.Span, type.ClrType);
        }
        catch (Exception ex)
        {
            return ValueTask.FromResult(Outcome.DeadLetter(
                $"The body could not be deserialized as '{type.WireName}' ({type.ClrType.FullName}): {ex.Message}", ex));
        }

        if (message is null)
        {
            return ValueTask.FromResult(Outcome.DeadLetter(
                $"The body could not be deserialized as '{type.WireName}' ({type.ClrType.FullName}): the serializer returned null"));
        }

        context.Message = message;
        return next(context);
    }
}

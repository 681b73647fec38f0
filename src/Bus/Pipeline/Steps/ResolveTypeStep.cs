using System.Globalization;
using Bus.Hosting;
using Bus.SystemMessages;
using Bus.Transports;

namespace Bus.Pipeline.Steps;

/// <summary>
/// Finds the registered type of a message: from its wire name and version header, or (a foreign payload without the
/// header) from the <see cref="SystemMessageMap"/>, which also reads it. An unknown wire name, a version newer than
/// the one known here or an invalid one, an unrecognised payload and a type without handlers are dead-lettered with a
/// reason: a payload only ever becomes a type the application registered.
/// </summary>
internal sealed class ResolveTypeStep(BusConfiguration config, HandlingTable handling) : IIncomingStep
{
    public ValueTask<Outcome> InvokeAsync(IncomingContext context, IncomingStepDelegate next)
    {
        MessageType type;
        var headers = context.Headers;
        if (headers.TryGetValue(MessageHeaders.MessageType, out var wireName))
        {
            if (!config.Messages.TryResolve(wireName, out type))
            {
                return DeadLetter($"Unknown message type '{wireName}': no type is registered under this wire name on endpoint '{config.EndpointName}'.");
            }

            if (VersionProblem(headers, type) is { } problem)
            {
                return DeadLetter(problem);
            }
        }
        else if (config.SystemMessages.TryRecognize(context.Received.Message.Body, out var systemType, out var systemMessage, out var error))
        {
            type = config.Messages.Get(systemType!);
            context.Message = systemMessage!;
        }
        else
        {
            return DeadLetter(error ?? "The message has no bus-message-type header and matches no registered system message.");
        }

        var handled = handling.For(type);
        if (handled.Invokers.Length == 0)
        {
            return DeadLetter($"No handler for message type '{type.WireName}' on endpoint '{config.EndpointName}'.");
        }

        context.Handling = handled;
        return next(context);
    }

    private static ValueTask<Outcome> DeadLetter(string reason) => ValueTask.FromResult(Outcome.DeadLetter(reason));

    /// <summary>
    /// Why a message of <paramref name="type"/> cannot be read for its version header, or null when it can. A message's
    /// identity is its wire name and version: an older version is read into the current type (a tolerant reader); a
    /// newer one is kept for an endpoint that knows it (deploy it, then redrive).
    /// </summary>
    private string? VersionProblem(IReadOnlyDictionary<string, string> headers, MessageType type)
    {
        if (!headers.TryGetValue(MessageHeaders.MessageVersion, out var versionText))
        {
            return null;
        }

        if (!int.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out var version) || version < 1)
        {
            return $"Message type '{type.WireName}' has an invalid version '{versionText}': versions are whole numbers from 1.";
        }

        return version > type.Version
            ? $"Message type '{type.WireName}' is version {version}, newer than the version {type.Version} endpoint '{config.EndpointName}' knows " +
              $"({type.ClrType.FullName}). Deploy a handler that knows version {version}, then redrive it."
            : null;
    }
}

namespace Bus.Pipeline;

/// <summary>
/// Hears how each delivery of the endpoint ended: completed, retried, released, dead-lettered, or not settled because
/// its lease was lost. Register implementations as singletons in DI (<c>services.AddSingleton&lt;IDeliveryObserver,
/// MyObserver&gt;()</c>); every one is told, in registration order, after the message is settled.
/// </summary>
/// <remarks>
/// Observers run on the worker that held the message, before it takes the next one: keep them quick. An exception an
/// observer throws is logged and ignored. A settlement that fails for another reason (the transport is unreachable) is
/// logged and not reported: the message is delivered again when its lease expires.
/// </remarks>
public interface IDeliveryObserver
{
    /// <summary>Called once a delivery is settled (or found to have lost its lease).</summary>
    /// <param name="report">What happened to which message.</param>
    /// <param name="cancellationToken">Not cancelled today; for future use.</param>
    Task OnSettledAsync(DeliveryReport report, CancellationToken cancellationToken);
}

/// <summary>How one delivery ended, as told to <see cref="IDeliveryObserver"/>.</summary>
/// <param name="MessageId">The message id.</param>
/// <param name="MessageType">The wire name, or null when the message had no known type (e.g. an unknown wire name or
/// an unrecognised foreign payload).</param>
/// <param name="Attempt">The attempt (receive count) this delivery was.</param>
/// <param name="Queue">The queue it was received from.</param>
/// <param name="Kind">What happened to it.</param>
/// <param name="Reason">Why, for anything but a completion.</param>
/// <param name="Delay">For a retry or release: how long it stays invisible.</param>
public sealed record DeliveryReport(string MessageId, string? MessageType, int Attempt, string Queue, OutcomeKind Kind, string? Reason, TimeSpan Delay);

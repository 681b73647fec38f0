using Bus.Jobs;
using Bus.Transports;

namespace Bus.Pipeline;

/// <summary>What a handler did during its attempt that the end of the attempt acts on: the messages it sent (held until
/// it succeeds, or sent whatever the outcome), the sticky headers it added, the decision it recorded and the job status
/// it reported. Made by its <see cref="MessageContext"/> on the first of these: most handlers do none, and their
/// delivery then costs one object less.</summary>
internal sealed class HandlerEffects
{
    /// <summary>Messages sent while handling, held until the handlers succeed.</summary>
    public List<OutgoingMessage>? Pending { get; set; }

    /// <summary>Messages sent with <see cref="DeliveryOptions.EvenIfHandlerFails"/>: they go out however the attempt ends.</summary>
    public List<OutgoingMessage>? Regardless { get; set; }

    /// <summary>Sticky headers added while handling (e.g. the workflow id), carried by everything sent.</summary>
    public Dictionary<string, string>? AddedSticky { get; set; }

    /// <summary>How the handler decided the attempt ends (a fail, a checkpoint release).</summary>
    public Exception? Decision { get; set; }

    /// <summary>The job's status as the attempt last saved it.</summary>
    public JobStatus? Status { get; set; }
}

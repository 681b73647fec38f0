using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.Leases;

/// <summary>
/// What the <see cref="LeaseRenewer"/>s of one endpoint share: the transport's lease capabilities, the clock, the
/// deadline timer, the log and the metrics tag. Held once per endpoint, so a renewer carries one reference instead of
/// five.
/// </summary>
internal sealed class EndpointLeases(
    TransportCapabilities capabilities, TimeProvider time, LeaseDeadlines deadlines, ILogger log, KeyValuePair<string, object?> tag)
{
    public TransportCapabilities Capabilities { get; } = capabilities;

    public TimeProvider Time { get; } = time;

    public LeaseDeadlines Deadlines { get; } = deadlines;

    public ILogger Log { get; } = log;

    public KeyValuePair<string, object?> Tag { get; } = tag;
}

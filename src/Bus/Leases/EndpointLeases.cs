using Bus.Transports;
using Microsoft.Extensions.Logging;

namespace Bus.Leases;

/// <summary>
/// What the <see cref="LeaseRenewer"/>s of one endpoint share: the transport's lease capabilities, the clock, the log
/// and the metrics tag. Held once per endpoint, so a renewer carries one reference instead of four.
/// </summary>
internal sealed class EndpointLeases(TransportCapabilities capabilities, TimeProvider time, ILogger log, KeyValuePair<string, object?> tag)
{
    public TransportCapabilities Capabilities { get; } = capabilities;

    public TimeProvider Time { get; } = time;

    public ILogger Log { get; } = log;

    public KeyValuePair<string, object?> Tag { get; } = tag;
}

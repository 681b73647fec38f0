using Bus.Hosting;
using Bus.Transports;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bus.Diagnostics.Health;

/// <summary><c>bus-transport</c>: reads the endpoint queue's statistics; a transport that answers is reachable. A
/// transport that counts nothing is judged by its receive loop instead (<c>bus-receive-loop</c>).</summary>
internal sealed class TransportHealthCheck(ITransport transport, BusConfiguration config) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (transport.Statistics is not { } statistics)
        {
            return HealthCheckResult.Healthy($"The {transport.Capabilities.Name} transport reports no statistics; see bus-receive-loop for whether it answers.");
        }

        try
        {
            var counts = await statistics.GetAsync(config.EndpointName!, cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy($"The {transport.Capabilities.Name} transport answered for queue '{counts.Queue}'.", HealthData.Of(counts));
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(
                context.Registration.FailureStatus,
                $"The {transport.Capabilities.Name} transport did not answer for queue '{config.EndpointName}': {ex.Message}",
                ex);
        }
    }
}

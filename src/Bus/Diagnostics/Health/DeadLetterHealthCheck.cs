using Bus.Hosting;
using Bus.Transports;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bus.Diagnostics.Health;

/// <summary><c>bus-dead-letters</c>: the endpoint queue's dead letters against the threshold.</summary>
internal sealed class DeadLetterHealthCheck(ITransport transport, BusConfiguration config, BusHealthCheckOptions options) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (transport.Statistics is not { } statistics)
        {
            return HealthCheckResult.Healthy($"The {transport.Capabilities.Name} transport does not count dead letters.");
        }

        var counts = await statistics.GetAsync(config.EndpointName!, cancellationToken).ConfigureAwait(false);
        var data = HealthData.Of(counts);
        return counts.DeadLettered > options.DeadLetterThreshold
            ? new HealthCheckResult(
                context.Registration.FailureStatus,
                $"Queue '{counts.Queue}' holds {counts.DeadLettered} dead letters (threshold {options.DeadLetterThreshold}). Look at them with `bus dlq list {counts.Queue}`.",
                data: data)
            : HealthCheckResult.Healthy($"Queue '{counts.Queue}' holds {counts.DeadLettered} dead letters (threshold {options.DeadLetterThreshold}).", data);
    }
}

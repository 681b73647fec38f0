using Bus.Pipeline;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bus.Diagnostics.Health;

/// <summary><c>bus-receive-loop</c>: the endpoint's receive loop runs and its receives are not failing in a row.</summary>
internal sealed class ReceiveLoopHealthCheck(ReceiveLoopState state, BusHealthCheckOptions options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var failures = state.ConsecutiveFailures;
        var data = new Dictionary<string, object> { ["stage"] = state.Stage.ToString(), ["consecutiveFailures"] = failures };
        var unhealthy = context.Registration.FailureStatus;
        var result = state.Stage switch
        {
            ReceiveLoopStage.SendOnly => HealthCheckResult.Healthy("Send-only endpoint: nothing to receive.", data),
            ReceiveLoopStage.NotStarted => new HealthCheckResult(unhealthy, "The bus has not started (the host has not started it yet).", data: data),
            ReceiveLoopStage.Stopped => new HealthCheckResult(unhealthy, "The bus stopped receiving (the host is stopping).", data: data),
            ReceiveLoopStage.Faulted => new HealthCheckResult(unhealthy, "The receive loop ended unexpectedly; restart the host.", state.LastError, data),
            _ when failures >= options.FailedReceivesBeforeUnhealthy => new HealthCheckResult(
                unhealthy, $"The last {failures} receives failed: {state.LastError?.Message}", state.LastError, data),
            _ => HealthCheckResult.Healthy(failures == 0 ? "Receiving." : $"Receiving ({failures} failed receives in a row).", data),
        };
        return Task.FromResult(result);
    }
}

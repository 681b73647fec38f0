using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bus.Diagnostics.Health;

/// <summary>Settings of the bus's health checks (<see cref="BusHealthChecksBuilderExtensions.AddBusHealthChecks"/>).</summary>
public sealed class BusHealthCheckOptions
{
    /// <summary>The dead-letter count the endpoint queue may reach before the <c>bus-dead-letters</c> check reports
    /// <see cref="DeadLetterStatus"/> (default 0: any dead letter). At least 0.</summary>
    public long DeadLetterThreshold { get; set; }

    /// <summary>What the <c>bus-dead-letters</c> check reports above the threshold (default
    /// <see cref="HealthStatus.Degraded"/>).</summary>
    public HealthStatus DeadLetterStatus { get; set; } = HealthStatus.Degraded;

    /// <summary>Receives failing in a row before the <c>bus-receive-loop</c> check reports unhealthy (default 3; at
    /// least 1). The loop backs off between failures, so a blip of one or two failed receives stays healthy.</summary>
    public int FailedReceivesBeforeUnhealthy { get; set; } = 3;

    /// <summary>How long one check may take before it counts as failed (default 10 seconds; 1 second to 5 minutes).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Tags of the three checks, for filtering in <c>MapHealthChecks</c> (default "bus").</summary>
    public IList<string> Tags { get; } = ["bus"];

    /// <summary>Throws when a setting is out of range, saying what to set.</summary>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public void Validate()
    {
        if (DeadLetterThreshold < 0)
        {
            throw new ArgumentException($"BusHealthCheckOptions.DeadLetterThreshold must be 0 or more (was {DeadLetterThreshold}); 0 reports any dead letter.", nameof(DeadLetterThreshold));
        }

        if (!Enum.IsDefined(DeadLetterStatus) || DeadLetterStatus == HealthStatus.Healthy)
        {
            throw new ArgumentException($"BusHealthCheckOptions.DeadLetterStatus must be Degraded or Unhealthy (was {DeadLetterStatus}).", nameof(DeadLetterStatus));
        }

        if (FailedReceivesBeforeUnhealthy < 1)
        {
            throw new ArgumentException($"BusHealthCheckOptions.FailedReceivesBeforeUnhealthy must be at least 1 (was {FailedReceivesBeforeUnhealthy}).", nameof(FailedReceivesBeforeUnhealthy));
        }

        if (Timeout < TimeSpan.FromSeconds(1) || Timeout > TimeSpan.FromMinutes(5))
        {
            throw new ArgumentException($"BusHealthCheckOptions.Timeout must be between 1 second and 5 minutes (was {Timeout}).", nameof(Timeout));
        }

        if (Tags.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("BusHealthCheckOptions.Tags must not hold empty tags.", nameof(Tags));
        }
    }
}

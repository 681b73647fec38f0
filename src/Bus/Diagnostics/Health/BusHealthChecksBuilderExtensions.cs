using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Bus.Diagnostics.Health;

/// <summary>Adds the bus's health checks to ASP.NET Core / Microsoft.Extensions health checks.</summary>
public static class BusHealthChecksBuilderExtensions
{
    /// <summary>The name of the check that reads the endpoint queue's statistics from the transport.</summary>
    public const string TransportCheck = "bus-transport";

    /// <summary>The name of the check of the endpoint's receive loop.</summary>
    public const string ReceiveLoopCheck = "bus-receive-loop";

    /// <summary>The name of the check of the endpoint queue's dead-letter count.</summary>
    public const string DeadLetterCheck = "bus-dead-letters";

    /// <summary>
    /// Adds three checks of the bus endpoint registered with <c>AddBus</c>: <c>bus-transport</c> (the transport answers:
    /// the endpoint queue's statistics can be read; unhealthy on an error or timeout), <c>bus-receive-loop</c> (the loop
    /// runs and its receives are not failing in a row; healthy on a send-only endpoint) and <c>bus-dead-letters</c>
    /// (degraded when the endpoint queue holds more dead letters than the threshold). Each check's data holds the figures
    /// it saw.
    /// </summary>
    /// <param name="builder">From <c>services.AddHealthChecks()</c>.</param>
    /// <param name="configure">Changes the settings; they are validated here.</param>
    /// <exception cref="ArgumentException">A setting is out of range; the message says what to set.</exception>
    public static IHealthChecksBuilder AddBusHealthChecks(this IHealthChecksBuilder builder, Action<BusHealthCheckOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new BusHealthCheckOptions();
        configure?.Invoke(options);
        options.Validate();
        var tags = options.Tags.ToArray();
        builder.Add(new HealthCheckRegistration(
            TransportCheck, sp => ActivatorUtilities.CreateInstance<TransportHealthCheck>(sp), HealthStatus.Unhealthy, tags, options.Timeout));
        builder.Add(new HealthCheckRegistration(
            ReceiveLoopCheck, sp => ActivatorUtilities.CreateInstance<ReceiveLoopHealthCheck>(sp, options), HealthStatus.Unhealthy, tags, options.Timeout));
        builder.Add(new HealthCheckRegistration(
            DeadLetterCheck, sp => ActivatorUtilities.CreateInstance<DeadLetterHealthCheck>(sp, options), options.DeadLetterStatus, tags, options.Timeout));
        return builder;
    }
}

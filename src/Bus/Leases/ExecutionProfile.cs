namespace Bus.Leases;

/// <summary>
/// How long a handler may hold a message and how its lease is kept alive. <see cref="Default"/> suits short
/// handlers; <see cref="LongRunning"/> suits jobs of minutes to hours.
/// </summary>
public sealed record ExecutionProfile
{
    /// <summary>The lease taken at receive and on each renewal. Transports with a fixed lease (Service Bus) use theirs.</summary>
    public required TimeSpan LeaseDuration { get; init; }

    /// <summary>How often the lease is renewed while the handler runs. Must be well below <see cref="LeaseDuration"/>.</summary>
    public required TimeSpan HeartbeatInterval { get; init; }

    /// <summary>The handler is cancelled and the attempt counted as failed when it runs longer than this.</summary>
    public required TimeSpan MaxRuntime { get; init; }

    /// <summary>The longest <see cref="MaxRuntime"/> allowed: a year (a runtime is a bound, never "forever").</summary>
    public static TimeSpan MaxRuntimeLimit { get; } = TimeSpan.FromDays(365);

    /// <summary>Whether the lease is renewed automatically while the handler runs. Default true.</summary>
    public bool AutomaticRenewal { get; init; } = true;

    /// <summary>The profile for ordinary handlers: lease 1 minute, heartbeat every 20 seconds, at most 10 minutes.</summary>
    public static ExecutionProfile Default { get; } = new()
    {
        LeaseDuration = TimeSpan.FromMinutes(1),
        HeartbeatInterval = TimeSpan.FromSeconds(20),
        MaxRuntime = TimeSpan.FromMinutes(10),
    };

    /// <summary>For long jobs: lease 5 minutes, heartbeat every minute, automatic renewal up to <paramref name="maxRuntime"/>.</summary>
    public static ExecutionProfile LongRunning(TimeSpan maxRuntime) => new()
    {
        LeaseDuration = TimeSpan.FromMinutes(5),
        HeartbeatInterval = TimeSpan.FromMinutes(1),
        MaxRuntime = maxRuntime,
    };

    /// <summary>Throws <see cref="BusConfigurationException"/> naming the first invalid setting.</summary>
    public void Validate(string owner)
    {
        if (LeaseDuration < TimeSpan.FromSeconds(1))
        {
            throw new BusConfigurationException($"{owner}: LeaseDuration must be at least 1 second (was {LeaseDuration}).");
        }

        if (HeartbeatInterval <= TimeSpan.Zero || HeartbeatInterval >= LeaseDuration)
        {
            throw new BusConfigurationException(
                $"{owner}: HeartbeatInterval ({HeartbeatInterval}) must be more than zero and shorter than LeaseDuration ({LeaseDuration}), or the lease expires between heartbeats.");
        }

        if (MaxRuntime <= TimeSpan.Zero || MaxRuntime > MaxRuntimeLimit)
        {
            throw new BusConfigurationException($"{owner}: MaxRuntime must be more than zero and at most {MaxRuntimeLimit.TotalDays:0} days (was {MaxRuntime}).");
        }
    }
}

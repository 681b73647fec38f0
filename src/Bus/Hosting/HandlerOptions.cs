using Bus.Leases;
using Bus.Recoverability;

namespace Bus.Hosting;

/// <summary>Settings for the handlers of one message type. Unset values fall back to the bus's.</summary>
public sealed class HandlerOptions
{
    /// <summary>The execution profile (lease, heartbeat, max runtime).</summary>
    public ExecutionProfile? Profile { get; set; }

    /// <summary>The retry policy.</summary>
    public RetryPolicy? Retry { get; set; }

    /// <summary>A daily window outside which the message waits.</summary>
    public TimeWindow? Window { get; set; }

    /// <summary>At most this many messages of the type are handled at once on this endpoint (and host), within the
    /// endpoint's <see cref="BusConfiguration.MaxConcurrency"/>; null (default): only the endpoint's limit. See
    /// <see cref="MaxConcurrency"/>.</summary>
    public int? ConcurrencyLimit { get; set; }

    /// <summary>
    /// Handles at most <paramref name="limit"/> messages of the type at once, so a heavy job type cannot take every
    /// worker. A message over the limit does not hold a worker: it waits, received and its lease renewed, until a
    /// message of its type finishes (the worker that finished it runs it next), while the workers handle other types.
    /// Up to <paramref name="limit"/> messages wait per type; one more is released, visible again after 5 seconds,
    /// without counting an attempt (on SQS and Service Bus the broker still counts the receive). The limit is per host.
    /// </summary>
    /// <exception cref="BusConfigurationException"><paramref name="limit"/> is not 1 to 10,000.</exception>
    public HandlerOptions MaxConcurrency(int limit)
    {
        ConcurrencyLimit = limit;
        Validate("MaxConcurrency");
        return this;
    }

    /// <summary>The batch size when <see cref="Batch"/> was not called: 10.</summary>
    public const int DefaultBatchSize = 10;

    /// <summary>The batch window when <see cref="Batch"/> was not called: 1 second.</summary>
    public static readonly TimeSpan DefaultBatchWindow = TimeSpan.FromSeconds(1);

    /// <summary>For an <see cref="IHandleBatches{TMessage}"/>: the most messages in one batch. Null: 10.</summary>
    public int? BatchSize { get; set; }

    /// <summary>For an <see cref="IHandleBatches{TMessage}"/>: how long a batch waits, from its first message, for
    /// more. Null: 1 second.</summary>
    public TimeSpan? BatchWindow { get; set; }

    /// <summary>
    /// Batches for the type's <see cref="IHandleBatches{TMessage}"/>: up to <paramref name="maxSize"/> messages, or what
    /// arrived within <paramref name="window"/> of the batch's first message, whichever comes first. Each message of a
    /// batch holds a worker (and its lease) while it waits, so a batch has at most the endpoint's
    /// <see cref="BusConfiguration.MaxConcurrency"/> (or the type's <see cref="MaxConcurrency"/>) messages.
    /// </summary>
    /// <exception cref="BusConfigurationException">The size is not 1 to 1,000 or the window not above zero and at most an hour.</exception>
    public HandlerOptions Batch(int maxSize, TimeSpan window)
    {
        BatchSize = maxSize;
        BatchWindow = window;
        Validate("Batch");
        return this;
    }

    internal void Validate(string owner)
    {
        if (BatchSize is < 1 or > 1_000)
        {
            throw new BusConfigurationException($"{owner}: the batch size must be 1 to 1,000 messages (was {BatchSize}).");
        }

        if (BatchWindow is { } window && (window <= TimeSpan.Zero || window > TimeSpan.FromHours(1)))
        {
            throw new BusConfigurationException($"{owner}: the batch window must be above zero and at most 1 hour (was {window}).");
        }

        if (ConcurrencyLimit is < 1 or > 10_000)
        {
            throw new BusConfigurationException($"{owner}: the concurrency limit of a message type must be 1 to 10,000 (was {ConcurrencyLimit}).");
        }
    }

    /// <summary>Uses <see cref="ExecutionProfile.LongRunning"/> with <paramref name="maxRuntime"/>.</summary>
    public HandlerOptions LongRunning(TimeSpan maxRuntime)
    {
        Profile = ExecutionProfile.LongRunning(maxRuntime);
        return this;
    }

    /// <summary>Sets a retry policy of its own, starting from the defaults.</summary>
    public HandlerOptions Retries(Action<RetryPolicy> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var policy = new RetryPolicy();
        configure(policy);
        Retry = policy;
        return this;
    }
}

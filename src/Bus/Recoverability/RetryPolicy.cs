namespace Bus.Recoverability;

/// <summary>
/// How failed attempts are retried: first <see cref="ImmediateRetries"/> redeliveries at once, then delayed retries
/// with exponential back-off (<see cref="InitialDelay"/> × <see cref="Multiplier"/>^n, capped at
/// <see cref="MaxDelay"/>, spread by ±<see cref="JitterFactor"/>), until <see cref="MaxAttempts"/> attempts have
/// failed, when the message is dead-lettered. Exceptions listed as non-retryable (and
/// <see cref="NonRetryableException"/>) go to the dead-letter queue at once.
/// Defaults: 5 attempts, 1 immediate retry, then 2 s, 4 s, 8 s (±20 %), at most 5 minutes.
/// </summary>
public sealed class RetryPolicy
{
    private List<Type> _nonRetryable = [typeof(NonRetryableException)];

    /// <summary>Attempts in all, the first delivery included (1 = no retries). Default 5.</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>How many retries happen at once, before delayed retries begin. Default 1.</summary>
    public int ImmediateRetries { get; set; } = 1;

    /// <summary>The first delayed retry's delay. Default 2 seconds.</summary>
    public TimeSpan InitialDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Each further delayed retry waits this many times longer. Default 2.</summary>
    public double Multiplier { get; set; } = 2;

    /// <summary>No retry waits longer than this. Default 5 minutes.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Each delay is spread uniformly by up to ± this fraction, so retries of many messages do not arrive
    /// together. 0 to 1; default 0.2.</summary>
    public double JitterFactor { get; set; } = 0.2;

    /// <summary>
    /// Receives of one message, without it being settled, after which it is dead-lettered before its handler runs, with
    /// a reason saying so: a crash net for a message whose handler kills or stalls its process (no attempt ever fails,
    /// so <see cref="MaxAttempts"/> never ends it). Every kill of a worker adds a receive to each message it held,
    /// prefetched ones included, hence the headroom. Null (default): <see cref="MaxAttempts"/> + 20. When set, it must
    /// exceed <see cref="MaxAttempts"/>. SQS and Service Bus also have native caps (RedrivePolicy, MaxDeliveryCount).
    /// </summary>
    public int? MaxReceiveCount { get; set; }

    /// <summary>The receive count past which a message is dead-lettered unhandled.</summary>
    public int ReceiveCountCap => MaxReceiveCount ?? Math.Min(int.MaxValue - 1, MaxAttempts + 20);

    /// <summary>Exception types (and their subtypes) that are never retried.</summary>
    public IReadOnlyList<Type> NonRetryableExceptions => _nonRetryable;

    /// <summary>Never retry <typeparamref name="TException"/> or its subtypes.</summary>
    public RetryPolicy DoNotRetry<TException>()
        where TException : Exception
    {
        if (!_nonRetryable.Contains(typeof(TException)))
        {
            _nonRetryable.Add(typeof(TException));
        }

        return this;
    }

    /// <summary>Whether <paramref name="exception"/> may be retried.</summary>
    public bool IsRetryable(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var type = exception.GetType();
        return !_nonRetryable.Any(t => t.IsAssignableFrom(type));
    }

    /// <summary>Whether another attempt follows the failed attempt number <paramref name="failedAttempt"/> (1-based).</summary>
    public bool HasAttemptsLeft(int failedAttempt) => failedAttempt < MaxAttempts;

    /// <summary>The delay before retrying after failed attempt <paramref name="failedAttempt"/> (1-based), with a
    /// random jitter drawn from <see cref="Random.Shared"/>.</summary>
    public TimeSpan DelayAfter(int failedAttempt) => DelayAfter(failedAttempt, Random.Shared.NextDouble());

    /// <summary>The delay before retrying after failed attempt <paramref name="failedAttempt"/>, with
    /// <paramref name="random"/> in [0, 1) choosing the jitter (0.5 = none).</summary>
    public TimeSpan DelayAfter(int failedAttempt, double random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failedAttempt, 1);
        if (failedAttempt <= ImmediateRetries)
        {
            return TimeSpan.Zero;
        }

        var exponent = failedAttempt - ImmediateRetries - 1;
        var baseTicks = Math.Min(InitialDelay.Ticks * Math.Pow(Multiplier, exponent), MaxDelay.Ticks);
        var jittered = baseTicks * (1 + (JitterFactor * ((2 * Math.Clamp(random, 0, 1)) - 1)));
        return TimeSpan.FromTicks((long)Math.Clamp(jittered, 0, MaxDelay.Ticks));
    }

    /// <summary>Throws <see cref="BusConfigurationException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        Require(MaxAttempts is >= 1 and <= 1000, $"MaxAttempts must be 1 to 1000 (was {MaxAttempts}).");
        Require(ImmediateRetries >= 0 && ImmediateRetries < MaxAttempts, $"ImmediateRetries must be 0 or more and less than MaxAttempts (was {ImmediateRetries}).");
        Require(InitialDelay > TimeSpan.Zero, $"InitialDelay must be more than zero (was {InitialDelay}).");
        Require(Multiplier >= 1 && double.IsFinite(Multiplier), $"Multiplier must be at least 1 (was {Multiplier}).");
        Require(MaxDelay >= InitialDelay, $"MaxDelay ({MaxDelay}) must not be less than InitialDelay ({InitialDelay}).");
        Require(JitterFactor is >= 0 and <= 1, $"JitterFactor must be 0 to 1 (was {JitterFactor}).");
        Require(MaxReceiveCount is null || MaxReceiveCount > MaxAttempts,
            $"MaxReceiveCount ({MaxReceiveCount}) must exceed MaxAttempts ({MaxAttempts}), or be null for MaxAttempts + 20: otherwise a failing message is dead-lettered as a crash before its last attempt.");
    }

    /// <summary>A copy with the same settings.</summary>
    public RetryPolicy Clone()
    {
        var copy = (RetryPolicy)MemberwiseClone();
        copy._nonRetryable = [.. _nonRetryable];
        return copy;
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new BusConfigurationException("Retry policy: " + message);
        }
    }
}

/// <summary>Thrown by a handler for a failure no retry can fix (e.g. invalid input): the message is dead-lettered at once.</summary>
public class NonRetryableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NonRetryableException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

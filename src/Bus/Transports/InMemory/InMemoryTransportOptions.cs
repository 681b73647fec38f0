namespace Bus.Transports.InMemory;

/// <summary>Settings of the in-memory transport.</summary>
public sealed class InMemoryTransportOptions
{
    /// <summary>The largest message (body plus headers) accepted, in bytes. Default 1 MiB, like SQS, so oversized
    /// messages fail in development as they would in production.</summary>
    public long MaxMessageSize { get; set; } = 1024 * 1024;

    /// <summary>How long one receive waits for a message before returning empty. Default 1 second (on the broker's clock).</summary>
    public TimeSpan LongPollTime { get; set; } = TimeSpan.FromSeconds(1);

    internal void Validate()
    {
        if (MaxMessageSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxMessageSize), MaxMessageSize, "MaxMessageSize must be at least 1 byte.");
        }

        if (LongPollTime <= TimeSpan.Zero || LongPollTime > TimeSpan.FromMinutes(5))
        {
            throw new ArgumentOutOfRangeException(nameof(LongPollTime), LongPollTime, "LongPollTime must be more than zero and at most 5 minutes.");
        }
    }
}

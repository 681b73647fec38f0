namespace Bus.Benchmarks;

/// <summary>Command-line options and the sizes they imply.</summary>
public sealed record BenchmarkOptions(bool Quick, bool SkipInMemory, bool SkipSqs, bool ProfileAllocations, bool Isolated = false, bool SqliteOnly = false, bool SkipSqlite = false, bool SkipPostgreSql = false, bool PostgreSqlOnly = false)
{
    /// <summary>Messages per throughput run.</summary>
    public int ThroughputMessages => Quick ? 5_000 : 200_000;

    /// <summary>Messages per latency run (one in flight).</summary>
    public int LatencyMessages => Quick ? 500 : 10_000;

    /// <summary>Measured runs per scenario and bus (each after its own fresh start); the median is reported.</summary>
    public int Runs => Quick ? 1 : 3;

    /// <summary>Discarded warm-up runs per scenario and bus.</summary>
    public int WarmUps => 1;

    /// <summary>Measured runs per durable SQLite subject (alternating subject by subject); the median is reported. More
    /// than <see cref="Runs"/>: one run takes about two seconds and a disk flush varies a lot from run to run.</summary>
    public int SqliteRuns => Quick ? 1 : 5;

    /// <summary>Messages per durable SQLite run (Bus, Wolverine, the raw loop).</summary>
    public int SqliteMessages => Quick ? 300 : 5_000;

    /// <summary>Messages sent one at a time (the next after the last is handled) per durable SQLite latency run.</summary>
    public int SqliteLatencyMessages => Quick ? 30 : 300;

    /// <summary>Messages per PostgreSQL throughput run (Bus, Rebus).</summary>
    public int PostgreSqlMessages => Quick ? 100 : 2_000;

    /// <summary>Messages per PostgreSQL latency run (one in flight).</summary>
    public int PostgreSqlLatencyMessages => Quick ? 10 : 300;

    /// <summary>Messages per SQS request-count run.</summary>
    public int SqsMessages => Quick ? 200 : 2_000;

    /// <summary>How long the 50 long jobs hold their messages while heartbeats are counted.</summary>
    public TimeSpan LongJobDuration => Quick ? TimeSpan.FromSeconds(5) : TimeSpan.FromSeconds(20);

    /// <summary>The fauxqs (or other SQS) endpoint.</summary>
    public Uri SqsEndpoint { get; } = new(Environment.GetEnvironmentVariable("BUS_SQS_ENDPOINT") is { Length: > 0 } url ? url : "http://127.0.0.1:4566");

    /// <summary>Parses the arguments, or returns null when one is unknown.</summary>
    public static BenchmarkOptions? Parse(string[] args)
    {
        var known = new HashSet<string>(StringComparer.Ordinal) { "--quick", "--skip-in-memory", "--skip-sqs", "--profile-allocations", "--isolated", "--sqlite", "--skip-sqlite", "--skip-postgres", "--postgres" };
        if (args.Any(a => !known.Contains(a)))
        {
            return null;
        }

        return new BenchmarkOptions(
            args.Contains("--quick"), args.Contains("--skip-in-memory"), args.Contains("--skip-sqs"), args.Contains("--profile-allocations"), args.Contains("--isolated"),
            args.Contains("--sqlite"), args.Contains("--skip-sqlite"), args.Contains("--skip-postgres"), args.Contains("--postgres"));
    }
}

using System.Diagnostics;

namespace Bus.Benchmarks;

/// <summary>The figures of one run (or the medians of several) of one scenario on one bus.</summary>
public sealed record Figures(
    double MessagesPerSecond,
    double P50Microseconds,
    double P99Microseconds,
    double MaxMicroseconds,
    double BytesPerMessage,
    double PeakWorkingSetMegabytes)
{
    /// <summary>Garbage collections of each generation during the run (shown per run, not in the tables).</summary>
    public (int Gen0, int Gen1, int Gen2) Collections { get; init; }

    /// <summary>Time the runtime was paused for garbage collection during the run (shown per run, not in the tables).</summary>
    public TimeSpan GcPause { get; init; }

    /// <summary>The median of each figure over <paramref name="runs"/>.</summary>
    public static Figures Median(IReadOnlyList<Figures> runs) => new(
        MedianOf(runs.Select(r => r.MessagesPerSecond)),
        MedianOf(runs.Select(r => r.P50Microseconds)),
        MedianOf(runs.Select(r => r.P99Microseconds)),
        MedianOf(runs.Select(r => r.MaxMicroseconds)),
        MedianOf(runs.Select(r => r.BytesPerMessage)),
        MedianOf(runs.Select(r => r.PeakWorkingSetMegabytes)));

    private static double MedianOf(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
            : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

/// <summary>Samples the process's working set on a background thread and keeps the peak since <see cref="Reset"/>.</summary>
public sealed class WorkingSetSampler : IDisposable
{
    private readonly Thread _thread;
    private volatile bool _running = true;
    private long _peak;

    /// <summary>Starts sampling every 10 ms.</summary>
    public WorkingSetSampler()
    {
        _thread = new Thread(Sample) { IsBackground = true, Name = "working-set sampler" };
        _thread.Start();
    }

    /// <summary>The highest working set seen since the last reset, in bytes.</summary>
    public long Peak => Math.Max(Interlocked.Read(ref _peak), Environment.WorkingSet);

    /// <summary>Starts a new peak from the current working set.</summary>
    public void Reset() => Interlocked.Exchange(ref _peak, Environment.WorkingSet);

    /// <inheritdoc />
    public void Dispose()
    {
        _running = false;
        _thread.Join();
    }

    private void Sample()
    {
        while (_running)
        {
            var now = Environment.WorkingSet;
            long seen;
            do
            {
                seen = Interlocked.Read(ref _peak);
            }
            while (now > seen && Interlocked.CompareExchange(ref _peak, now, seen) != seen);

            Thread.Sleep(10);
        }
    }
}

/// <summary>Allocation and working-set accounting around one measured run.</summary>
internal readonly struct RunMeter
{
    private readonly long _allocatedBefore;
    private readonly WorkingSetSampler _workingSet;
    private readonly (int Gen0, int Gen1, int Gen2) _collectionsBefore;
    private readonly TimeSpan _pausedBefore;

    private RunMeter(WorkingSetSampler workingSet)
    {
        _workingSet = workingSet;
        _allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        _collectionsBefore = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        _pausedBefore = GC.GetTotalPauseDuration();
    }

    /// <summary>Time paused for garbage collection since the start.</summary>
    public TimeSpan GcPause => GC.GetTotalPauseDuration() - _pausedBefore;

    /// <summary>Collections of each generation since the start (a gen1 collection also counts as a gen0 one).</summary>
    public (int Gen0, int Gen1, int Gen2) Collections =>
        (GC.CollectionCount(0) - _collectionsBefore.Gen0, GC.CollectionCount(1) - _collectionsBefore.Gen1, GC.CollectionCount(2) - _collectionsBefore.Gen2);

    /// <summary>Collects garbage left by earlier runs, resets the peak and starts counting allocations.</summary>
    public static RunMeter Start(WorkingSetSampler workingSet)
    {
        // An aggressive collection also gives the heap of earlier runs back to the OS, so each run's peak is its own.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        workingSet.Reset();
        return new RunMeter(workingSet);
    }

    /// <summary>Bytes allocated (all threads) since the start, per message.</summary>
    public double BytesPer(long messages) => (GC.GetTotalAllocatedBytes(precise: true) - _allocatedBefore) / (double)messages;

    /// <summary>The peak working set since the start, in MiB.</summary>
    public double PeakWorkingSetMegabytes => _workingSet.Peak / (1024.0 * 1024.0);
}

/// <summary>Converts <see cref="Stopwatch"/> ticks.</summary>
internal static class Ticks
{
    public static double ToMicroseconds(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;

    public static double ToSeconds(long ticks) => ticks / (double)Stopwatch.Frequency;
}

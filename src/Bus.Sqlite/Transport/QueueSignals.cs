using System.Collections.Concurrent;

namespace Bus.Sqlite.Transport;

/// <summary>
/// In-process wake-ups per queue of one database file: a send (or a message given back) by this process wakes its
/// waiting receivers at once. Other processes' messages are found by the poll interval.
/// </summary>
internal sealed class QueueSignals
{
    private static readonly ConcurrentDictionary<string, QueueSignals> ByDatabase = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _queues = new(StringComparer.Ordinal);

    /// <summary>The signals shared by every transport in this process on the database file at <paramref name="path"/>.</summary>
    public static QueueSignals For(string path) => ByDatabase.GetOrAdd(path, static _ => new QueueSignals());

    /// <summary>A task that completes at the next <see cref="Notify"/> of <paramref name="queue"/>. Take it before
    /// looking for messages, so a send in between is not missed.</summary>
    public Task Next(string queue) =>
        _queues.GetOrAdd(queue, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>Wakes the receivers waiting on <paramref name="queue"/>.</summary>
    public void Notify(string queue)
    {
        if (_queues.TryRemove(queue, out var signal))
        {
            signal.TrySetResult();
        }
    }
}

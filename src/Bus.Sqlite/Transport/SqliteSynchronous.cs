namespace Bus.Sqlite;

/// <summary>When SQLite waits for the disk on commit (<c>PRAGMA synchronous</c>, in WAL mode): what an acknowledged
/// write survives. Set with <see cref="SqliteTransportOptions.Synchronous"/>.</summary>
public enum SqliteSynchronous
{
    /// <summary>The default: a send (and a redrive, give-back or dead letter) is flushed to disk (<c>synchronous=FULL</c>)
    /// before it returns, so an acknowledged send survives a process crash and a power loss or operating-system crash.
    /// Takes, attempt starts, lease renewals and completions commit without waiting for the disk unless such a write
    /// shares their transaction; the next flushed commit flushes them too. A power loss may lose the last of them,
    /// which only makes a message visible again (a completed message is delivered once more, at least once).</summary>
    Full = 0,

    /// <summary>Commits are written to the write-ahead log without waiting for the disk; the log is flushed at
    /// checkpoints (<c>synchronous=NORMAL</c>). An acknowledged write survives a crash of the process, but the last
    /// commits before a power loss or operating-system crash may be lost (the database stays consistent). Faster;
    /// choose it only when losing the last moments of work on power loss is acceptable.</summary>
    Normal = 1,
}

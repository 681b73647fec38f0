namespace Bus.Sqlite;

/// <summary>When SQLite waits for the disk on commit (<c>PRAGMA synchronous</c>, in WAL mode): what an acknowledged
/// write survives. Set with <see cref="SqliteTransportOptions.Synchronous"/>.</summary>
public enum SqliteSynchronous
{
    /// <summary>The default: every commit is flushed to disk (<c>synchronous=FULL</c>) before the send, receive or
    /// completion returns, so an acknowledged write survives a process crash and a power loss or operating-system crash.</summary>
    Full = 0,

    /// <summary>Commits are written to the write-ahead log without waiting for the disk; the log is flushed at
    /// checkpoints (<c>synchronous=NORMAL</c>). An acknowledged write survives a crash of the process, but the last
    /// commits before a power loss or operating-system crash may be lost (the database stays consistent). Faster;
    /// choose it only when losing the last moments of work on power loss is acceptable.</summary>
    Normal = 1,
}

using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Bus.Sqlite.Transport;

/// <summary>
/// Every write of one transport, run one after another on one connection (a <see cref="WriteConnection"/>). SQLite lets one connection write at a
/// time; pooled connections of the same process racing for that lock back off by sleeping in the busy handler, so
/// the process queues its own writers here instead. Writes that queue up while a transaction commits are run
/// together in the next transaction (one commit, so one disk flush, for all of them), each inside its own savepoint
/// (a write alone in its transaction needs none):
/// a write that fails is rolled back alone and the others still commit. A write's result is handed back only
/// after its transaction committed.
/// Under <see cref="SqliteSynchronous.Full"/>, a transaction that holds only bookkeeping writes (queued with
/// <c>flush: false</c>: takes, attempt starts, lease renewals, completions) commits without waiting for the disk
/// (<c>synchronous=NORMAL</c> for that commit). The write-ahead log is appended in order, so the next flushed commit
/// (a send, a give-back, a dead letter) flushes those too; a process crash loses none of them, a power loss before
/// that next flush may lose them, which only makes a message visible again with its earlier count of attempts (a
/// completed one is delivered once more).
/// </summary>
internal sealed class WriteQueue : IAsyncDisposable
{
    /// <summary>The most writes in one transaction.</summary>
    public const int MaxBatch = 128;

    private readonly Channel<Write> _writes = Channel.CreateUnbounded<Write>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Func<CancellationToken, Task<SqliteConnection>> _open;
    private readonly bool _flushEveryCommit;
    private readonly Task _loop;
    private long _commits;
    private long _unflushedCommits;

    /// <summary>Starts the queue; the connection is opened (with <paramref name="open"/>, at the
    /// <paramref name="synchronous"/> level) by the first write.</summary>
    public WriteQueue(Func<CancellationToken, Task<SqliteConnection>> open, SqliteSynchronous synchronous)
    {
        _open = open;
        _flushEveryCommit = synchronous == SqliteSynchronous.Full;
        _loop = Task.Run(WriteLoopAsync);
    }

    /// <summary>Transactions committed so far (tests read it to see writes share one).</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Transactions committed without waiting for the disk so far (tests read it).</summary>
    public long UnflushedCommits => Interlocked.Read(ref _unflushedCommits);

    /// <summary>Queues <paramref name="work"/> and returns its result once its transaction committed. A write not yet
    /// started when <paramref name="cancellationToken"/> is cancelled is dropped; a started one that the token stops is
    /// rolled back alone. With <paramref name="flush"/> false the write is bookkeeping whose loss in a power cut is
    /// harmless: when its whole transaction is such writes, the commit does not wait for the disk.</summary>
    /// <exception cref="ObjectDisposedException">The queue was disposed.</exception>
    public Task<T> RunAsync<T>(
        Func<WriteConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken, bool flush = true)
    {
        var write = new Write<T>(work, flush, cancellationToken);
        if (!_writes.Writer.TryWrite(write))
        {
            throw new ObjectDisposedException(nameof(SqliteTransport));
        }

        return write.Result;
    }

    /// <summary>Runs the writes already queued, then closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        _writes.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private async Task WriteLoopAsync()
    {
        WriteConnection? connection = null;
        var flushing = _flushEveryCommit; // the level of the open connection
        var batch = new List<Write>(MaxBatch);
        try
        {
            while (await _writes.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _writes.Reader.TryRead(out var write))
                {
                    if (!write.TryDropIfCancelled())
                    {
                        batch.Add(write);
                    }
                }

                if (batch.Count == 0)
                {
                    continue;
                }

                try
                {
                    if (connection is null)
                    {
                        connection = new WriteConnection(await _open(CancellationToken.None).ConfigureAwait(false));
                        flushing = _flushEveryCommit;
                    }

                    var flush = _flushEveryCommit && batch.Exists(static write => write.Flush);
                    if (flush != flushing)
                    {
                        await connection.SetSynchronousAsync(flush).ConfigureAwait(false);
                        flushing = flush;
                    }

                    await RunBatchAsync(connection, batch).ConfigureAwait(false);
                    if (!flush)
                    {
                        Interlocked.Increment(ref _unflushedCommits);
                    }
                }
                catch (Exception e)
                {
                    // The transaction (or opening) failed: nothing of the batch was stored. Start from a fresh connection.
                    foreach (var write in batch)
                    {
                        write.Fail(e);
                    }

                    if (connection is not null)
                    {
                        await connection.DisposeAsync().ConfigureAwait(false);
                        connection = null;
                    }
                }
            }
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task RunBatchAsync(WriteConnection connection, List<Write> batch)
    {
        await connection.BeginAsync().ConfigureAwait(false);
        if (batch.Count == 1)
        {
            // Alone in its transaction, a write needs no savepoint: if it fails, nothing is committed.
            try
            {
                await batch[0].RunAsync(connection).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                batch[0].Fail(e);
                await connection.RollbackAsync().ConfigureAwait(false);
                return;
            }
        }
        else
        {
            foreach (var write in batch)
            {
                await RunInSavepointAsync(connection, write).ConfigureAwait(false);
            }
        }

        await connection.CommitAsync().ConfigureAwait(false);
        Interlocked.Increment(ref _commits);
        foreach (var write in batch)
        {
            write.Committed();
        }
    }

    /// <summary>Runs one write of a batch: if it fails, it alone is rolled back and the others still commit.</summary>
    private static async Task RunInSavepointAsync(WriteConnection connection, Write write)
    {
        await connection.SavepointAsync().ConfigureAwait(false);
        try
        {
            await write.RunAsync(connection).ConfigureAwait(false);
            await connection.ReleaseSavepointAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await connection.RollbackSavepointAsync().ConfigureAwait(false);
            write.Fail(e);
        }
    }

    private abstract class Write(bool flush)
    {
        /// <summary>Whether its commit must wait for the disk.</summary>
        public bool Flush => flush;

        public abstract Task RunAsync(WriteConnection connection);

        /// <summary>Hands the result to the caller (a write that failed alone keeps its error).</summary>
        public abstract void Committed();

        public abstract void Fail(Exception error);

        public abstract bool TryDropIfCancelled();
    }

    private sealed class Write<T>(
        Func<WriteConnection, CancellationToken, Task<T>> work, bool flush, CancellationToken cancellationToken)
        : Write(flush)
    {
        private readonly TaskCompletionSource<T> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _value;
        private bool _failed;

        public Task<T> Result => _result.Task;

        public override async Task RunAsync(WriteConnection connection) =>
            _value = await work(connection, cancellationToken).ConfigureAwait(false);

        public override void Committed()
        {
            if (!_failed)
            {
                _result.TrySetResult(_value!);
            }
        }

        public override void Fail(Exception error)
        {
            _failed = true;
            if (error is OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                _result.TrySetCanceled(cancellationToken);
            }
            else
            {
                _result.TrySetException(error);
            }
        }

        public override bool TryDropIfCancelled()
        {
            if (!cancellationToken.IsCancellationRequested)
            {
                return false;
            }

            _result.TrySetCanceled(cancellationToken);
            return true;
        }
    }
}

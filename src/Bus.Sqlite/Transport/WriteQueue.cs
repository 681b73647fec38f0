using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Bus.Sqlite.Transport;

/// <summary>
/// Every write of one transport, run one after another on one connection. SQLite lets one connection write at a
/// time; pooled connections of the same process racing for that lock back off by sleeping in the busy handler, so
/// the process queues its own writers here instead. Writes that queue up while a transaction commits are run
/// together in the next transaction (one commit, so one disk flush, for all of them), each inside its own savepoint:
/// a write that fails is rolled back alone and the others still commit. A write's result is handed back only
/// after its transaction committed.
/// </summary>
internal sealed class WriteQueue : IAsyncDisposable
{
    /// <summary>The most writes in one transaction.</summary>
    public const int MaxBatch = 128;

    private readonly Channel<Write> _writes = Channel.CreateUnbounded<Write>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Func<CancellationToken, Task<SqliteConnection>> _open;
    private readonly Task _loop;
    private long _commits;

    /// <summary>Starts the queue; the connection is opened (with <paramref name="open"/>) by the first write.</summary>
    public WriteQueue(Func<CancellationToken, Task<SqliteConnection>> open)
    {
        _open = open;
        _loop = Task.Run(WriteLoopAsync);
    }

    /// <summary>Transactions committed so far (tests read it to see writes share one).</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Queues <paramref name="work"/> and returns its result once its transaction committed. A write not yet
    /// started when <paramref name="cancellationToken"/> is cancelled is dropped; a started one that the token stops is
    /// rolled back alone.</summary>
    /// <exception cref="ObjectDisposedException">The queue was disposed.</exception>
    public Task<T> RunAsync<T>(
        Func<SqliteConnection, SqliteTransaction, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        var write = new Write<T>(work, cancellationToken);
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
        SqliteConnection? connection = null;
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
                    connection ??= await _open(CancellationToken.None).ConfigureAwait(false);
                    await RunBatchAsync(connection, batch).ConfigureAwait(false);
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

    private async Task RunBatchAsync(SqliteConnection connection, List<Write> batch)
    {
        await using var transaction = connection.BeginTransaction(deferred: false);
        foreach (var write in batch)
        {
            transaction.Save("write");
            try
            {
                await write.RunAsync(connection, transaction).ConfigureAwait(false);
                transaction.Release("write");
            }
            catch (Exception e)
            {
                transaction.Rollback("write");
                transaction.Release("write");
                write.Fail(e);
            }
        }

        await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
        Interlocked.Increment(ref _commits);
        foreach (var write in batch)
        {
            write.Committed();
        }
    }

    private abstract class Write
    {
        public abstract Task RunAsync(SqliteConnection connection, SqliteTransaction transaction);

        /// <summary>Hands the result to the caller (a write that failed alone keeps its error).</summary>
        public abstract void Committed();

        public abstract void Fail(Exception error);

        public abstract bool TryDropIfCancelled();
    }

    private sealed class Write<T>(
        Func<SqliteConnection, SqliteTransaction, CancellationToken, Task<T>> work, CancellationToken cancellationToken) : Write
    {
        private readonly TaskCompletionSource<T> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _value;
        private bool _failed;

        public Task<T> Result => _result.Task;

        public override async Task RunAsync(SqliteConnection connection, SqliteTransaction transaction) =>
            _value = await work(connection, transaction, cancellationToken).ConfigureAwait(false);

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

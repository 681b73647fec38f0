using Microsoft.Data.Sqlite;

namespace Bus.Sqlite.Transport;

/// <summary>
/// The one connection the <see cref="WriteQueue"/> writes on, with every statement it runs prepared once and kept: a
/// write asks for its statement by SQL text (<see cref="Command"/>) and gets the same prepared command each time, and
/// the transaction statements (<c>BEGIN IMMEDIATE</c>, <c>COMMIT</c>, savepoints, the synchronous level) are kept the
/// same way. SQLite then parses each statement once per connection instead of once per write.
/// </summary>
internal sealed class WriteConnection : IAsyncDisposable
{
    private readonly Dictionary<string, SqliteCommand> _statements = new(StringComparer.Ordinal);

    public WriteConnection(SqliteConnection connection)
    {
        Connection = connection;
    }

    /// <summary>The open connection (tests use it for statements of their own).</summary>
    public SqliteConnection Connection { get; }

    /// <summary>The prepared command for <paramref name="sql"/>, its parameters cleared. It belongs to the connection: use
    /// it within the write, dispose its readers, never the command.</summary>
    public SqliteCommand Command(string sql)
    {
        if (_statements.TryGetValue(sql, out var command))
        {
            command.Parameters.Clear();
            return command;
        }

        command = Connection.CreateCommand();
        command.CommandText = sql;
        _statements.Add(sql, command);
        return command;
    }

    public Task BeginAsync() => RunAsync("BEGIN IMMEDIATE;");

    public Task CommitAsync() => RunAsync("COMMIT;");

    public Task RollbackAsync() => RunAsync("ROLLBACK;");

    public Task SavepointAsync() => RunAsync("SAVEPOINT write;");

    public Task ReleaseSavepointAsync() => RunAsync("RELEASE SAVEPOINT write;");

    /// <summary>Undoes what the write did since its savepoint and ends the savepoint.</summary>
    public async Task RollbackSavepointAsync()
    {
        await RunAsync("ROLLBACK TO SAVEPOINT write;").ConfigureAwait(false);
        await ReleaseSavepointAsync().ConfigureAwait(false);
    }

    /// <summary>Whether commits wait for the disk (<c>synchronous=FULL</c>) or not (<c>NORMAL</c>).</summary>
    public Task SetSynchronousAsync(bool flush) => RunAsync(flush ? "PRAGMA synchronous = FULL;" : "PRAGMA synchronous = NORMAL;");

    public async ValueTask DisposeAsync()
    {
        foreach (var command in _statements.Values)
        {
            await command.DisposeAsync().ConfigureAwait(false);
        }

        await Connection.DisposeAsync().ConfigureAwait(false);
    }

    private Task RunAsync(string sql) => Command(sql).ExecuteNonQueryAsync(CancellationToken.None);
}

using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Bus.Sqlite.Schema;

/// <summary>
/// One SQLite database file: validates the connection string, opens pooled connections with a busy timeout and
/// creates or migrates the schema of a component (transport, steps, workflows) once per instance.
/// </summary>
internal sealed class SqliteDatabase
{
    private readonly SemaphoreSlim _schemaGate = new(1, 1);
    private readonly HashSet<string> _migrated = new(StringComparer.Ordinal);
    private readonly string _connectionPragmas;

    public SqliteDatabase(string connectionString, SqliteSynchronous synchronous = SqliteSynchronous.Full)
    {
        ConnectionString = Normalize(connectionString, out var filePath, out var busyTimeout);
        FilePath = filePath;
        Synchronous = synchronous;
        var level = synchronous == SqliteSynchronous.Normal ? "NORMAL" : "FULL";
        _connectionPragmas = string.Create(CultureInfo.InvariantCulture, $"PRAGMA busy_timeout = {busyTimeout}; PRAGMA synchronous = {level};");
    }

    /// <summary>The connection string used for every connection.</summary>
    public string ConnectionString { get; }

    /// <summary>The synchronous level every connection is opened with.</summary>
    public SqliteSynchronous Synchronous { get; }

    /// <summary>The full path of the database file; the key of the in-process wake-up signals.</summary>
    public string FilePath { get; }

    /// <summary>Builds a connection string for a database file path, creating its folder when missing.</summary>
    public static string ForPath(string databasePath)
    {
        if (string.IsNullOrWhiteSpace(databasePath))
        {
            throw new ArgumentException("The SQLite database path must not be empty.", nameof(databasePath));
        }

        var fullPath = Path.GetFullPath(databasePath);
        if (Path.GetDirectoryName(fullPath) is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
        }

        return new SqliteConnectionStringBuilder
        {
            DataSource = fullPath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
        }.ToString();
    }

    /// <summary>Checks a connection string and returns it normalised (full file path, pooling on).</summary>
    public static string Normalize(string connectionString, out string filePath, out int busyTimeoutMilliseconds)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new ArgumentException("The SQLite connection string must not be empty.", nameof(connectionString));
        }

        SqliteConnectionStringBuilder builder;
        try
        {
            builder = new SqliteConnectionStringBuilder(connectionString);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            throw new ArgumentException(
                $"'{connectionString}' is not a valid SQLite connection string (e.g. \"Data Source=bus.db\"): {e.Message}",
                nameof(connectionString),
                e);
        }

        if (string.IsNullOrWhiteSpace(builder.DataSource))
        {
            throw new ArgumentException(
                "The SQLite connection string names no database file: set \"Data Source=<path>\".", nameof(connectionString));
        }

        if (builder.Mode == SqliteOpenMode.Memory
            || string.Equals(builder.DataSource, ":memory:", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException(
                "Bus.Sqlite is durable and shares one database file between connections and processes: use a file, not an in-memory database.",
                nameof(connectionString));
        }

        if (builder.Mode == SqliteOpenMode.ReadOnly)
        {
            throw new ArgumentException("Bus.Sqlite writes to its database: Mode=ReadOnly is not supported.", nameof(connectionString));
        }

        if (builder.DataSource.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException("Use a plain file path as Data Source, not a 'file:' URI.", nameof(connectionString));
        }

        var fullPath = Path.GetFullPath(builder.DataSource);
        builder.DataSource = fullPath;
        filePath = fullPath;
        busyTimeoutMilliseconds = (int)Math.Clamp(builder.DefaultTimeout * 1000L, 1_000L, int.MaxValue);
        return builder.ToString();
    }

    /// <summary>Opens a connection (from the pool) with the busy timeout and synchronous level set.</summary>
    public async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = await OpenReaderAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var pragma = connection.CreateCommand();
            pragma.CommandText = _connectionPragmas;
            await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Opens a connection (from the pool) for reading only: a WAL reader takes no write lock and syncs
    /// nothing, so the per-connection settings of <see cref="OpenAsync"/> are skipped (every writer sets them when it
    /// opens, pooled connection or not).</summary>
    public async Task<SqliteConnection> OpenReaderAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Creates or upgrades the tables of <paramref name="component"/> once per instance.</summary>
    public async Task EnsureSchemaAsync(string component, IReadOnlyList<string> migrations, CancellationToken cancellationToken)
    {
        lock (_migrated)
        {
            if (_migrated.Contains(component))
            {
                return;
            }
        }

        await _schemaGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_migrated)
            {
                if (_migrated.Contains(component))
                {
                    return;
                }
            }

            await SchemaMigrator.MigrateAsync(this, component, migrations, cancellationToken).ConfigureAwait(false);
            lock (_migrated)
            {
                _migrated.Add(component);
            }
        }
        finally
        {
            _schemaGate.Release();
        }
    }

    /// <summary>Lets idle pooled connections go, so the file can be moved or deleted.</summary>
    public void ReleasePooledConnections()
    {
        using var connection = new SqliteConnection(ConnectionString);
        SqliteConnection.ClearPool(connection);
    }
}

using Bus.Sqlite.Schema;

namespace Bus.Sqlite;

/// <summary>Settings of <see cref="SqliteTransport"/>. Set exactly one of <see cref="DatabasePath"/> and
/// <see cref="ConnectionString"/>.</summary>
public sealed class SqliteTransportOptions
{
    /// <summary>The largest <see cref="MaxMessageSize"/> accepted: 256 MiB.</summary>
    public const long MaxMessageSizeLimit = 256L * 1024 * 1024;

    private string? _databasePath;
    private string? _connectionString;
    private TimeSpan _pollInterval = TimeSpan.FromSeconds(1);
    private long _maxMessageSize = 1024 * 1024;
    private SqliteSynchronous _synchronous = SqliteSynchronous.Full;

    /// <summary>The database file, e.g. <c>data/bus.db</c>; created (with its folder) on first use. Every process that
    /// shares the file shares the queues.</summary>
    /// <exception cref="ArgumentException">The path is empty or whitespace.</exception>
    public string? DatabasePath
    {
        get => _databasePath;
        set
        {
            if (value is not null && string.IsNullOrWhiteSpace(value))
            {
                throw new ArgumentException("DatabasePath must not be empty or whitespace.", nameof(DatabasePath));
            }

            _databasePath = value;
        }
    }

    /// <summary>A Microsoft.Data.Sqlite connection string naming a database file, e.g. <c>Data Source=bus.db</c>,
    /// as an alternative to <see cref="DatabasePath"/>. In-memory databases are rejected.</summary>
    /// <exception cref="ArgumentException">The string is empty or names no file.</exception>
    public string? ConnectionString
    {
        get => _connectionString;
        set
        {
            if (value is not null)
            {
                SqliteDatabase.Normalize(value, out _, out _);
            }

            _connectionString = value;
        }
    }

    /// <summary>How long one receive waits when the queue is empty, and so how often messages written by other
    /// processes are noticed. Sends by this process and messages falling due wake receivers at once. Default 1 second
    /// (on the <see cref="TimeProvider"/>); more than zero and at most 5 minutes.</summary>
    public TimeSpan PollInterval
    {
        get => _pollInterval;
        set
        {
            if (value <= TimeSpan.Zero || value > TimeSpan.FromMinutes(5))
            {
                throw new ArgumentOutOfRangeException(nameof(PollInterval), value, "PollInterval must be more than zero and at most 5 minutes.");
            }

            _pollInterval = value;
        }
    }

    /// <summary>The largest message (body plus headers) accepted, in bytes. Default 1 MiB; 1 byte to
    /// <see cref="MaxMessageSizeLimit"/>. Larger messages fail at send with <see cref="Bus.Transports.MessageTooLargeException"/>.</summary>
    public long MaxMessageSize
    {
        get => _maxMessageSize;
        set
        {
            if (value is < 1 or > MaxMessageSizeLimit)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(MaxMessageSize), value, $"MaxMessageSize must be 1 to {MaxMessageSizeLimit:N0} bytes.");
            }

            _maxMessageSize = value;
        }
    }

    /// <summary>What an acknowledged send survives: <see cref="SqliteSynchronous.Full"/> (the default: a power loss)
    /// or <see cref="SqliteSynchronous.Normal"/> (a process crash, not a power loss; faster). Applies to the
    /// transport's connections only.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not one of <see cref="SqliteSynchronous"/>.</exception>
    public SqliteSynchronous Synchronous
    {
        get => _synchronous;
        set
        {
            if (!Enum.IsDefined(value))
            {
                throw new ArgumentOutOfRangeException(
                    nameof(Synchronous), value, "Synchronous must be SqliteSynchronous.Full (survives power loss, the default) or SqliteSynchronous.Normal (survives a process crash only).");
            }

            _synchronous = value;
        }
    }

    /// <summary>The clock for leases, delays and poll waits; the container's <see cref="System.TimeProvider"/> or
    /// <see cref="TimeProvider.System"/> when null.</summary>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>Checks that the settings fit together and returns the connection string to use.</summary>
    internal string Validate()
    {
        if (DatabasePath is null && ConnectionString is null)
        {
            throw new ArgumentException("Set SqliteTransportOptions.DatabasePath (e.g. \"data/bus.db\") or ConnectionString.");
        }

        if (DatabasePath is not null && ConnectionString is not null)
        {
            throw new ArgumentException("Set only one of SqliteTransportOptions.DatabasePath and ConnectionString, not both.");
        }

        return ConnectionString ?? SqliteDatabase.ForPath(DatabasePath!);
    }

    internal SqliteTransportOptions Clone() => (SqliteTransportOptions)MemberwiseClone();
}

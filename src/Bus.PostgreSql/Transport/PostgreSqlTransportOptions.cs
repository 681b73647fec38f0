using Bus.PostgreSql.Schema;

namespace Bus.PostgreSql;

/// <summary>Settings of <see cref="PostgreSqlTransport"/>. <see cref="ConnectionString"/> is required.</summary>
public sealed class PostgreSqlTransportOptions
{
    /// <summary>The largest <see cref="MaxMessageSize"/> accepted: 256 MiB.</summary>
    public const long MaxMessageSizeLimit = 256L * 1024 * 1024;

    private string? _connectionString;
    private string _schema = SchemaName.Default;
    private TimeSpan _pollInterval = TimeSpan.FromSeconds(5);
    private long _maxMessageSize = 1024 * 1024;

    /// <summary>An Npgsql connection string, e.g. <c>Host=db;Database=app;Username=bus;Password=...</c>. Every host using
    /// the same database and <see cref="Schema"/> shares the queues.</summary>
    /// <exception cref="ArgumentException">The string is empty, malformed or names no server.</exception>
    public string? ConnectionString
    {
        get => _connectionString;
        set
        {
            if (value is not null)
            {
                PostgreSqlDatabase.Parse(value);
            }

            _connectionString = value;
        }
    }

    /// <summary>The PostgreSQL schema that holds the transport's tables (one queue set: messages, subscriptions, dead
    /// letters), created on first use when missing. Default <c>bus</c>; 1 to 48 lower-case letters, digits and
    /// underscores.</summary>
    /// <exception cref="ArgumentException">The name is not a plain lower-case identifier.</exception>
    public string Schema
    {
        get => _schema;
        set => _schema = SchemaName.Validate(value, nameof(Schema));
    }

    /// <summary>How long one receive waits on an empty queue before it returns empty and looks again. Sends by any
    /// host wake receivers at once (LISTEN/NOTIFY), and a message falling due wakes them at its time, so this is only a
    /// safety net (e.g. while the listening connection reconnects). Default 5 seconds (on the
    /// <see cref="TimeProvider"/>); more than zero and at most 5 minutes.</summary>
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

    /// <summary>Whether messages a handler sends are written in the same transaction that completes (or otherwise
    /// settles) the message it handles, so they exist if and only if that message is settled: a transactional outbox.
    /// Default true. When false, they are sent when the handler succeeds, before the message is completed (a crash in
    /// between sends them again on the retry).</summary>
    public bool TransactionalSends { get; set; } = true;

    /// <summary>The clock for leases, delays and poll waits; the container's <see cref="System.TimeProvider"/> or
    /// <see cref="TimeProvider.System"/> when null. Hosts sharing a database need synchronised clocks (NTP), as leases
    /// and delays are compared against the writer's clock.</summary>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>Checks that the settings fit together.</summary>
    internal void Validate()
    {
        if (ConnectionString is null)
        {
            throw new ArgumentException(
                "Set PostgreSqlTransportOptions.ConnectionString (e.g. \"Host=db;Database=app;Username=bus;Password=...\").");
        }
    }

    internal PostgreSqlTransportOptions Clone() => (PostgreSqlTransportOptions)MemberwiseClone();
}

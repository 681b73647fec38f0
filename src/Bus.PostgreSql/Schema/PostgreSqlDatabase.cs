using System.Net.Sockets;
using Npgsql;

namespace Bus.PostgreSql.Schema;

/// <summary>
/// One PostgreSQL database and the schema that holds Bus's tables: validates the connection string, hands out pooled
/// connections, creates or migrates the tables of a component (transport, steps, workflows, jobs) once per instance, and
/// turns connection and permission failures into errors that name the problem.
/// </summary>
internal sealed class PostgreSqlDatabase : IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly SemaphoreSlim _schemaGate = new(1, 1);
    private readonly HashSet<string> _migrated = new(StringComparer.Ordinal);

    public PostgreSqlDatabase(string connectionString, string schema)
    {
        var builder = Parse(connectionString);
        SchemaName = Schema.SchemaName.Validate(schema, nameof(schema));
        Host = builder.Host ?? "localhost";
        Port = builder.Port;
        DatabaseName = builder.Database ?? builder.Username ?? "(default)";
        Username = builder.Username ?? Environment.UserName;
        builder.Enlist = false; // Bus runs its own transactions; an ambient TransactionScope must not capture them
        _dataSource = NpgsqlDataSource.Create(builder);
    }

    /// <summary>The schema's name (a plain identifier).</summary>
    public string SchemaName { get; }

    /// <summary>The NOTIFY channel of the transport in this schema.</summary>
    public string Channel => SchemaName + "_wake";

    public string Host { get; }

    public int Port { get; }

    public string DatabaseName { get; }

    public string Username { get; }

    /// <summary>Where the tables live, for messages: <c>schema "bus" of database "app" on db:5432</c>.</summary>
    public string Describe() => $"schema \"{SchemaName}\" of database \"{DatabaseName}\" on {Host}:{Port}";

    /// <summary>Checks a connection string and returns its parsed form.</summary>
    public static NpgsqlConnectionStringBuilder Parse(string connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new ArgumentException(
                "The PostgreSQL connection string must not be empty (e.g. \"Host=db;Database=app;Username=bus;Password=...\").",
                nameof(connectionString));
        }

        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            throw new ArgumentException(
                $"The PostgreSQL connection string is not valid (e.g. \"Host=db;Database=app;Username=bus;Password=...\"): {e.Message}",
                nameof(connectionString),
                e);
        }

        if (string.IsNullOrWhiteSpace(builder.Host))
        {
            throw new ArgumentException("The PostgreSQL connection string names no server: set \"Host=<name or address>\".", nameof(connectionString));
        }

        return builder;
    }

    /// <summary>Replaces <c>{schema}</c> in <paramref name="sql"/> with the quoted schema name.</summary>
    public string Sql(string sql) => sql.Replace("{schema}", "\"" + SchemaName + "\"", StringComparison.Ordinal);

    /// <summary>A command on <paramref name="connection"/> with <c>{schema}</c> filled in.</summary>
    public NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql) =>
        new(Sql(sql), connection, transaction);

    /// <summary>Opens a pooled connection after making sure <paramref name="component"/>'s tables are current.</summary>
    public async Task<NpgsqlConnection> OpenAsync(string component, IReadOnlyList<string> migrations, CancellationToken cancellationToken)
    {
        await EnsureSchemaAsync(component, migrations, cancellationToken).ConfigureAwait(false);
        return await OpenAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens a pooled connection; an unreachable server or a refused login becomes an error naming it.</summary>
    public async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Explain(e) is { } message)
        {
            throw new BusConfigurationException(message);
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

            try
            {
                await SchemaMigrator.MigrateAsync(this, component, migrations, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not BusConfigurationException && Explain(e) is { } message)
            {
                throw new BusConfigurationException(message);
            }

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

    /// <summary>A message naming a configuration problem behind <paramref name="e"/>, or null for other failures.</summary>
    public string? Explain(Exception e)
    {
        var server = $"PostgreSQL server {Host}:{Port}";
        return e switch
        {
            PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } p =>
                $"The PostgreSQL role \"{Username}\" lacks a right Bus needs on {Describe()}: {p.MessageText}. Grant it " +
                $"(e.g. GRANT USAGE, CREATE ON SCHEMA {SchemaName} TO \"{Username}\" and GRANT SELECT, INSERT, UPDATE, DELETE ON ALL " +
                $"TABLES IN SCHEMA {SchemaName} TO \"{Username}\"; creating the schema needs CREATE on the database), or let its owner " +
                "start Bus once to create the tables.",
            PostgresException { SqlState: PostgresErrorCodes.InvalidCatalogName } =>
                $"The database \"{DatabaseName}\" does not exist on the {server}: create it or fix Database= in the connection string.",
            PostgresException { SqlState: PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification } p =>
                $"The {server} refused the login of role \"{Username}\": {p.MessageText}. Check Username= and Password= in the connection string.",
            PostgresException => null,
            NpgsqlException { InnerException: SocketException or TimeoutException or IOException } n =>
                $"Could not connect to the {server} (database \"{DatabaseName}\"): {n.InnerException!.Message}. Check that the " +
                "server runs and that Host= and Port= in the connection string are right.",
            NpgsqlException { InnerException: null } n when n.Message.Contains("connect", StringComparison.OrdinalIgnoreCase) =>
                $"Could not connect to the {server} (database \"{DatabaseName}\"): {n.Message}",
            SocketException s => $"Could not connect to the {server}: {s.Message}. Check Host= and Port= in the connection string.",
            _ => null,
        };
    }

    /// <summary>Closes the pooled connections. The data stays in the database.</summary>
    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}

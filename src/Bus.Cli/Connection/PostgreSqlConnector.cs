using Bus.Jobs;
using Bus.PostgreSql;
using Bus.Schedules;
using Bus.Transports;
using Bus.Workflows;
using Microsoft.Extensions.Configuration;

namespace Bus.Cli.Connection;

/// <summary>PostgreSQL: <c>Bus:PostgreSql</c> binds <see cref="PostgreSqlTransportOptions"/> (<c>ConnectionString</c>,
/// <c>Schema</c>; <c>--postgres</c>, <c>--postgres-schema</c>). Jobs, workflows and schedules are read from the same
/// database and schema (UsePostgreSqlJobStatusStore, UsePostgreSqlWorkflowStore, UsePostgreSqlScheduleStore) unless
/// <c>Bus:Stores:Sqlite</c> names a SQLite file.</summary>
internal sealed class PostgreSqlConnector : ITransportConnector
{
    public string Name => "postgresql";

    public string Settings => "Bus:PostgreSql:ConnectionString and Bus:PostgreSql:Schema (--postgres CONNECTION, --postgres-schema SCHEMA)";

    public ITransport Connect(IConfigurationSection bus) =>
        TransportConnectors.Create("PostgreSQL", () => new PostgreSqlTransport(Options(bus)));

    public IJobStatusStore? DefaultJobStore(IConfigurationSection bus)
    {
        var options = Options(bus);
        return Create(() => new PostgreSqlJobStatusStore(options.ConnectionString!, options.Schema));
    }

    public IWorkflowStore? DefaultWorkflowStore(IConfigurationSection bus)
    {
        var options = Options(bus);
        return Create(() => new PostgreSqlWorkflowStore(options.ConnectionString!, options.Schema));
    }

    public IScheduleStore? DefaultScheduleStore(IConfigurationSection bus)
    {
        var options = Options(bus);
        return Create(() => new PostgreSqlScheduleStore(options.ConnectionString!, options.Schema));
    }

    private PostgreSqlTransportOptions Options(IConfigurationSection bus)
    {
        if (string.IsNullOrWhiteSpace(bus["PostgreSql:ConnectionString"]))
        {
            throw new CliException(ExitCodes.Configuration, $"The PostgreSQL transport needs a connection string: pass --postgres \"Host=...;Database=...;Username=...\" or set {Settings}.");
        }

        try
        {
            return TransportConnectors.Bind(bus, "PostgreSql", new PostgreSqlTransportOptions());
        }
        catch (Exception e) when (e is ArgumentException || e.InnerException is ArgumentException)
        {
            throw new CliException(ExitCodes.Configuration, $"The PostgreSQL settings are invalid: {(e.InnerException ?? e).Message}");
        }
    }

    private static T Create<T>(Func<T> create)
    {
        try
        {
            return create();
        }
        catch (ArgumentException e)
        {
            throw new CliException(ExitCodes.Configuration, $"The PostgreSQL settings are invalid: {e.Message}");
        }
    }
}

using Bus.Jobs;
using Bus.Schedules;
using Bus.Sqlite;
using Bus.Transports;
using Bus.Workflows;
using Microsoft.Extensions.Configuration;

namespace Bus.Cli.Connection;

/// <summary>SQLite: <c>Bus:Sqlite</c> binds <see cref="SqliteTransportOptions"/> (<c>DatabasePath</c>, <c>--sqlite</c>). The
/// database must exist: the tool never creates one. Jobs, workflows and schedules are read from the same file unless
/// <c>Bus:Stores:Sqlite</c> names another.</summary>
internal sealed class SqliteConnector : ITransportConnector
{
    public string Name => "sqlite";

    public string Settings => "Bus:Sqlite:DatabasePath (--sqlite PATH)";

    public ITransport Connect(IConfigurationSection bus) =>
        TransportConnectors.Create("SQLite", () => new SqliteTransport(TransportConnectors.Bind(bus, "Sqlite", new SqliteTransportOptions { DatabasePath = ExistingFile(bus) })));

    public IJobStatusStore? DefaultJobStore(IConfigurationSection bus) => SqliteJobStatusStore.ForFile(ExistingFile(bus));

    public IWorkflowStore? DefaultWorkflowStore(IConfigurationSection bus) => SqliteWorkflowStore.ForFile(ExistingFile(bus));

    public IScheduleStore? DefaultScheduleStore(IConfigurationSection bus) => SqliteScheduleStore.ForFile(ExistingFile(bus));

    private string ExistingFile(IConfigurationSection bus)
    {
        var path = bus["Sqlite:DatabasePath"];
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new CliException(ExitCodes.Configuration, $"The SQLite transport needs its database file: pass --sqlite PATH or set {Settings}.");
        }

        return File.Exists(path)
            ? path
            : throw new CliException(ExitCodes.Configuration, $"There is no SQLite database at '{Path.GetFullPath(path)}'. Pass the file an endpoint uses (--sqlite PATH).");
    }
}

using Bus.Jobs;
using Bus.Schedules;
using Bus.Sqlite;
using Bus.Workflows;
using Microsoft.Extensions.Configuration;

namespace Bus.Cli.Connection;

/// <summary>The job status, workflow and schedule stores the tool reads: <c>Bus:Stores:Sqlite</c> (<c>--store-sqlite
/// PATH</c>) when set, else the stores that go with the transport (the SQLite transport's own file, the PostgreSQL
/// transport's database and schema). Stores on DynamoDB or Azure Tables are one more branch here.</summary>
internal static class StoreConnectors
{
    private const string Missing =
        "set Bus:Stores:Sqlite (--store-sqlite PATH) to the SQLite file the endpoints keep it in, or use the SQLite or PostgreSQL transport, whose database holds it";

    public static IJobStatusStore Jobs(IConfigurationSection bus) =>
        SqliteFile(bus) is { } path ? SqliteJobStatusStore.ForFile(path)
        : TransportConnectors.For(bus).DefaultJobStore(bus)
          ?? throw new CliException(ExitCodes.Configuration, $"No job status store is configured: {Missing}.");

    public static IWorkflowStore Workflows(IConfigurationSection bus) =>
        SqliteFile(bus) is { } path ? SqliteWorkflowStore.ForFile(path)
        : TransportConnectors.For(bus).DefaultWorkflowStore(bus)
          ?? throw new CliException(ExitCodes.Configuration, $"No workflow store is configured: {Missing}.");

    public static IScheduleStore Schedules(IConfigurationSection bus) =>
        SqliteFile(bus) is { } path ? SqliteScheduleStore.ForFile(path)
        : TransportConnectors.For(bus).DefaultScheduleStore(bus)
          ?? throw new CliException(ExitCodes.Configuration, $"No schedule store is configured: {Missing}.");

    private static string? SqliteFile(IConfigurationSection bus)
    {
        var path = bus["Stores:Sqlite"];
        if (string.IsNullOrWhiteSpace(path))
        {
            return null;
        }

        return File.Exists(path)
            ? path
            : throw new CliException(ExitCodes.Configuration, $"There is no SQLite database at '{Path.GetFullPath(path)}' (Bus:Stores:Sqlite).");
    }
}

using Bus.CrashTesting;
using Bus.Hosting;

namespace Bus.PostgreSql.CrashWorker;

/// <summary>The crash worker on PostgreSQL: queue, steps and execution log in one schema (--schema) of the database the
/// connection string (--db) names.</summary>
public sealed class PostgreSqlCrashStorage : ICrashWorkerStorage
{
    /// <inheritdoc />
    public string Usage => "--db <connection string> --schema <name>";

    /// <inheritdoc />
    public IReadOnlyList<string> RequiredOptions => ["db", "schema"];

    /// <inheritdoc />
    public Task CreateLogAsync(IReadOnlyDictionary<string, string> options) => ExecutionLog.CreateAsync(options["db"], options["schema"]);

    /// <inheritdoc />
    public IExecutionLog OpenLog(IReadOnlyDictionary<string, string> options) => new ExecutionLog(options["db"], options["schema"]);

    /// <inheritdoc />
    public void UseTransport(BusConfiguration bus, IReadOnlyDictionary<string, string> options) =>
        bus.UsePostgreSql(options["db"], options["schema"]);

    /// <inheritdoc />
    public void UseWorkerStores(BusConfiguration bus, IReadOnlyDictionary<string, string> options, int concurrency)
    {
        bus.UsePostgreSqlStepStore(options["db"], options["schema"]);
        bus.Prefetch = 0;   // a killed worker holds only the jobs it was running
    }
}

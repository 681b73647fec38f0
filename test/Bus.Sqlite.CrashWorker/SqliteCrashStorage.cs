using Bus.CrashTesting;
using Bus.Hosting;

namespace Bus.Sqlite.CrashWorker;

/// <summary>The crash worker on SQLite: queue and steps in the database file (--db), the execution log in a file of
/// its own (--log).</summary>
public sealed class SqliteCrashStorage : ICrashWorkerStorage
{
    /// <inheritdoc />
    public string Usage => "--db <bus.db> --log <executions.db>";

    /// <inheritdoc />
    public IReadOnlyList<string> RequiredOptions => ["db", "log"];

    /// <inheritdoc />
    public Task CreateLogAsync(IReadOnlyDictionary<string, string> options) => ExecutionLog.CreateAsync(options["log"]);

    /// <inheritdoc />
    public IExecutionLog OpenLog(IReadOnlyDictionary<string, string> options) => new ExecutionLog(options["log"]);

    /// <inheritdoc />
    public void UseTransport(BusConfiguration bus, IReadOnlyDictionary<string, string> options) => bus.UseSqlite(sqlite =>
    {
        sqlite.DatabasePath = options["db"];
        sqlite.PollInterval = TimeSpan.FromMilliseconds(200);
    });

    /// <inheritdoc />
    public void UseWorkerStores(BusConfiguration bus, IReadOnlyDictionary<string, string> options, int concurrency)
    {
        bus.UseSqliteStepStore(options["db"]);
        bus.Prefetch = 3 * concurrency;   // a killed worker holds prefetched jobs it never started: they keep their attempts
    }
}

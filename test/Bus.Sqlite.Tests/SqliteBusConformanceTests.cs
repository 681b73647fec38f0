using Bus.Conformance;
using Bus.Hosting;
using Bus.Testing;

namespace Bus.Sqlite.Tests;

/// <summary>
/// The whole bus (routing, fan-out, retries, leases, dead letters, redrive, graceful stop) on the SQLite transport,
/// every endpoint of a test sharing one database file.
/// </summary>
/// <remarks>The suite's step store stays in memory: <c>Checkpoint_during_shutdown_...</c> stops the endpoint as soon
/// as step 1 is recorded and assumes the handler has already saved it and reached the next step, which holds only
/// when saving a step takes no time. The SQLite step store has its own contract tests.</remarks>
public sealed class SqliteBusConformanceTests : BusConformanceTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly TempDatabase _database = new();

    protected override TimeProvider Time => _time;

    protected override void UseTransport(BusConfiguration bus) => bus.UseSqlite(options =>
    {
        options.DatabasePath = _database.Path;
        options.TimeProvider = _time;
    });

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _database.Dispose();
    }
}

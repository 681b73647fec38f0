using Bus.Conformance;
using Bus.Hosting;
using Bus.Testing;

namespace Bus.Sqlite.Tests;

/// <summary>
/// The whole bus (routing, fan-out, retries, leases, dead letters, redrive, graceful stop) on the SQLite transport,
/// every endpoint of a test sharing one database file.
/// </summary>
/// <remarks>Steps are stored in the same database file, as a SQLite deployment would.</remarks>
public sealed class SqliteBusConformanceTests : BusConformanceTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly TempDatabase _database = new();
    private SqliteStepStore? _steps;

    protected override TimeProvider Time => _time;

    protected override Steps.IStepStore StepStore => _steps ??= SqliteStepStore.ForFile(_database.Path, _time);

    protected override void UseTransport(BusConfiguration bus) => bus.UseSqlite(options =>
    {
        options.DatabasePath = _database.Path;
        options.TimeProvider = _time;
    });

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _steps?.Dispose();
        _database.Dispose();
    }
}

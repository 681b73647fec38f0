using Bus.Conformance;
using Bus.Hosting;
using Bus.Testing;

namespace Bus.PostgreSql.Tests;

/// <summary>
/// The whole bus (routing, fan-out, retries, leases, dead letters, redrive, graceful stop) on the PostgreSQL transport,
/// every endpoint of a test sharing one schema, with the steps stored in the same schema, as a deployment would.
/// </summary>
public sealed class PostgreSqlBusConformanceTests : BusConformanceTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly TestSchema _schema = new();
    private PostgreSqlStepStore? _steps;

    protected override TimeProvider Time => _time;

    /// <summary>Longer than the suite's 2 s: the manual clock moves 200 ms every 5 ms of real time while a test waits,
    /// so a heartbeat's round trip to the server on a loaded CI machine (tens of milliseconds) costs a 2 s lease whole
    /// seconds of virtual time. 8 s leaves each renewal four times the room; the tests still check the same rules.</summary>
    protected override TimeSpan ShortLease => TimeSpan.FromSeconds(8);

    protected override Steps.IStepStore StepStore => _steps ??= new PostgreSqlStepStore(_schema.ConnectionString, _schema.Name, _time);

    protected override void UseTransport(BusConfiguration bus) => bus.UsePostgreSql(options =>
    {
        options.ConnectionString = _schema.ConnectionString;
        options.Schema = _schema.Name;
        options.TimeProvider = _time;
    });

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_steps is not null)
        {
            await _steps.DisposeAsync();
        }

        await _schema.DisposeAsync();
    }
}

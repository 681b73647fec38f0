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

using Bus.Conformance;
using Bus.Testing;
using Bus.Transports;

namespace Bus.PostgreSql.Tests;

public sealed class PostgreSqlTransportContractTests : TransportContractTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly TestSchema _schema = new();

    protected override TimeProvider Time => _time;

    protected override Task<ITransport> CreateTransportAsync() =>
        Task.FromResult<ITransport>(new PostgreSqlTransport(new PostgreSqlTransportOptions
        {
            ConnectionString = _schema.ConnectionString,
            Schema = _schema.Name,
            MaxMessageSize = 64 * 1024,
            PollInterval = TimeSpan.FromSeconds(1), // the suite's long polls end before its shortest delay is half over
            TimeProvider = _time,
        }));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _schema.DisposeAsync();
    }
}

using Bus.Conformance;
using Bus.Testing;
using Bus.Transports;

namespace Bus.Sqlite.Tests;

public sealed class SqliteTransportContractTests : TransportContractTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly TempDatabase _database = new();

    protected override TimeProvider Time => _time;

    protected override Task<ITransport> CreateTransportAsync() =>
        Task.FromResult<ITransport>(new SqliteTransport(new SqliteTransportOptions
        {
            DatabasePath = _database.Path,
            MaxMessageSize = 64 * 1024,
            TimeProvider = _time,
        }));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _database.Dispose();
    }
}

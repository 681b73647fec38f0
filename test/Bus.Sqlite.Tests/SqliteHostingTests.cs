using Bus.Hosting;
using Bus.Steps;
using Bus.Testing;
using Bus.Transports;
using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Sqlite.Tests;

public sealed class SqliteHostingTests
{
    [Fact]
    public async Task UseSqlite_registers_the_transport_and_both_stores_on_one_file()
    {
        using var database = new TempDatabase();
        var time = new ManualTimeProvider();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddBus(bus =>
        {
            bus.EndpointName = "sqlite-hosting";
            bus.UseSqlite(database.Path).UseSqliteStepStore(database.Path).UseSqliteWorkflowStore(database.Path);
        });

        await using (var provider = services.BuildServiceProvider())
        {
            var transport = Assert.IsType<SqliteTransport>(provider.GetRequiredService<ITransport>());
            var steps = Assert.IsType<SqliteStepStore>(provider.GetRequiredService<IStepStore>());
            Assert.IsType<SqliteWorkflowStore>(provider.GetRequiredService<IWorkflowStore>());
            Assert.Equal(Path.GetFullPath(database.Path), transport.DatabasePath);

            await transport.SendAsync([new OutgoingMessage(Destination.Queue("sqlite-hosting"), new TransportMessage(
                new Dictionary<string, string> { [MessageHeaders.MessageId] = "m-1" }, new byte[] { 1 }))], default);
            var received = Assert.Single(await transport.ReceiveAsync("sqlite-hosting", 1, TimeSpan.FromMinutes(1), default));
            Assert.Equal(time.GetUtcNow() + TimeSpan.FromMinutes(1), received.LeaseExpiresAt);
            await steps.SaveAsync("job", "step", "1", default);
        }

        using var reopened = SqliteStepStore.ForFile(database.Path);
        Assert.Equal("1", await reopened.GetAsync("job", "step", default));
    }

    [Fact]
    public void UseSqlite_checks_its_settings_at_configuration()
    {
        var services = new ServiceCollection();

        Assert.Throws<ArgumentException>(() => services.AddBus(bus => bus.UseSqlite(" ")));
        Assert.Throws<ArgumentException>(() => services.AddBus(bus => bus.UseSqlite(_ => { })));
        Assert.Throws<ArgumentOutOfRangeException>(() => services.AddBus(bus => bus.UseSqlite(o => o.PollInterval = TimeSpan.Zero)));
        Assert.Throws<ArgumentException>(() => services.AddBus(bus => bus.UseSqliteStepStore("")));
        Assert.Throws<ArgumentException>(() => services.AddBus(bus => bus.UseSqliteWorkflowStore("")));
    }
}

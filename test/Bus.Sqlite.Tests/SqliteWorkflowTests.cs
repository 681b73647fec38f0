using Bus.Conformance;
using Bus.Conformance.Workflows;
using Bus.Hosting;
using Bus.Testing;
using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Sqlite.Tests;

/// <summary>The workflow behaviour suite with workflow instances and steps in a SQLite file.</summary>
public sealed class SqliteWorkflowTests : WorkflowBehaviourTests
{
    private readonly TempDatabase _database = new();

    protected override void ConfigureStores(BusConfiguration bus)
    {
        bus.UseSqliteWorkflowStore(_database.Path);
        bus.UseSqliteStepStore(_database.Path);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _database.Dispose();
    }
}

/// <summary>A workflow's timeout on the SQLite transport survives the host that requested it.</summary>
public sealed class SqliteWorkflowRestartTests : IDisposable
{
    private readonly TempDatabase _database = new();
    private readonly ManualTimeProvider _time = new();
    private readonly Recorder _recorder = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task A_timeout_requested_before_a_restart_comes_back_to_its_instance_after_it()
    {
        var driver = new TimeDriver(_time, TimeSpan.FromSeconds(30)) { Step = TimeSpan.FromSeconds(5) };
        var name = $"orders-{Guid.NewGuid():N}"[..16];

        using var probe = new BusProbe();
        var before = await StartAsync(name);
        await before.Bus.SendAsync(new PlaceOrder("o-restart", 20m));
        await driver.AwaitAsync(probe.WhenAsync(name, "bus.messages.completed", 1));
        var started = await FindAsync(before);
        Assert.Equal(WorkflowStatus.Running, started.Status);
        Assert.Single(started.History);
        await driver.AwaitAsync(before.StopAsync());
        await before.DisposeAsync();

        // A new host on the same file: the payment never came, and the timeout requested by the old host fires.
        await using var after = await StartAsync(name);
        await driver.AwaitAsync(probe.WhenAsync(name, "bus.messages.completed", 2));
        var failed = await FindAsync(after);
        Assert.Equal(WorkflowStatus.Failed, failed.Status);

        Assert.Equal(started.Instance.Id, failed.Instance.Id);
        Assert.Contains("payment timed out", failed.Instance.FailureReason ?? string.Empty);
        // The timeout is due its delay after the handler asked for it; the instance's CreatedAt is taken when that
        // handler's state is saved, by which time the driver may have moved the clock one step (a loaded machine).
        Assert.True(_time.GetUtcNow() >= started.Instance.CreatedAt + OrderWorkflow.PaymentTimeout - driver.Step, "not before the timeout");
        Assert.Equal(2, failed.History.Count);
        await driver.AwaitAsync(after.StopAsync());
    }

    private Task<TestEndpoint> StartAsync(string name) =>
        TestEndpoint.StartAsync(name, _time, services => services.AddSingleton(_recorder), bus =>
        {
            bus.UseSqlite(options =>
            {
                options.DatabasePath = _database.Path;
                options.TimeProvider = _time;
            });
            bus.UseSqliteWorkflowStore(_database.Path);
            bus.AddWorkflow<OrderWorkflow>("orders.order");
            bus.RouteCommand<ChargeCard>("payments");
        });

    private static async Task<WorkflowSnapshot> FindAsync(TestEndpoint endpoint) =>
        await endpoint.Services.GetRequiredService<IWorkflowStatusQuery>().FindAsync<OrderWorkflow>("o-restart")
        ?? throw new Xunit.Sdk.XunitException("No instance for o-restart.");
}

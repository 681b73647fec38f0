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
    public async Task A_job_handled_by_one_host_is_read_with_its_result_by_another_sharing_the_job_status_store()
    {
        using var database = new TempDatabase();
        var time = new ManualTimeProvider();
        var recorder = new Conformance.Recorder();
        void Configure(BusConfiguration bus)
        {
            bus.UseSqlite(database.Path).UseSqliteJobStatusStore(database.Path);
            bus.AddHandler<ResultHandler>();
        }

        using var probe = new Conformance.BusProbe();
        await using var worker = await Conformance.TestEndpoint.StartAsync("jobs-shared", time, s => s.AddSingleton(recorder), Configure);

        // Another host of the endpoint: it only answers queries.
        var otherServices = new ServiceCollection();
        otherServices.AddBus(bus =>
        {
            bus.EndpointName = "jobs-shared";
            Configure(bus);
        });
        await using var other = otherServices.BuildServiceProvider();

        await worker.Bus.SendAsync(new ResultJob(21), new DeliveryOptions { MessageId = "job-21" });
        await new Conformance.TimeDriver(time, TimeSpan.FromSeconds(30)).AwaitAsync(probe.WhenAsync("jobs-shared", "bus.messages.completed", 1));
        var status = await other.GetRequiredService<Jobs.IJobStatusQuery>().GetAsync("job-21");

        Assert.Equal(Jobs.JobState.Completed, status!.State);
        Assert.Equal(42, status.ResultAs<int>());
        Assert.Equal("tests.result-job", status.MessageType);
    }

    [MessageName("tests.result-job")]
    public sealed record ResultJob(int Value) : ICommand;

    public sealed class ResultHandler(Conformance.Recorder recorder) : IHandleMessages<ResultJob>
    {
        public async Task HandleAsync(ResultJob message, IMessageContext context)
        {
            await context.RecordResultAsync(message.Value * 2);
            recorder.Record(new Conformance.Handled(nameof(ResultHandler), message, context.MessageId, context.Headers, context.Attempt, context.Queue, DateTimeOffset.UtcNow));
        }
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

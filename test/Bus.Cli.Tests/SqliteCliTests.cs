using Bus.Hosting;
using Bus.Sqlite;

namespace Bus.Cli.Tests;

/// <summary>The tool against an endpoint on SQLite, connected with flags (and, in one test, environment variables).</summary>
public sealed class SqliteCliTests : CliTests
{
    private readonly string _database = Path.Combine(Directory.CreateTempSubdirectory("bus-cli-").FullName, "bus.db");

    protected override IReadOnlyList<string> Connection => ["--transport", "sqlite", "--sqlite", _database];

    protected override void UseTransport(BusConfiguration bus) => bus.UseSqlite(o =>
    {
        o.DatabasePath = _database;
        o.PollInterval = TimeSpan.FromMilliseconds(100); // the tool writes from another process
    });

    [Fact]
    public async Task Settings_come_from_environment_variables_too()
    {
        var run = await BusTool.RunAsync(
            ["queues", Queue, "-o", "json"],
            environment: new Dictionary<string, string?> { ["BUS__TRANSPORT"] = "sqlite", ["BUS__SQLITE__DATABASEPATH"] = _database });

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(3, run.Json()[0].GetProperty("deadLettered").GetInt64());
    }

    [Fact]
    public async Task A_long_redrive_goes_in_batches_with_a_progress_bar_and_moves_every_match()
    {
        await using var transport = new SqliteTransport(new SqliteTransportOptions { DatabasePath = _database });
        await transport.ProvisionAsync(new Bus.Transports.TransportTopology("bulk", [], []), default);
        var messages = Enumerable.Range(0, 250).Select(i => new Bus.Transports.OutgoingMessage(
            Bus.Transports.Destination.Queue("bulk"),
            new Bus.Transports.TransportMessage(
                new Dictionary<string, string> { [MessageHeaders.MessageId] = $"bulk-{i}", [MessageHeaders.MessageType] = i % 5 == 0 ? "bulk.other" : "bulk.item" },
                System.Text.Encoding.UTF8.GetBytes("{}")))).ToList();
        await transport.SendAsync(messages, default);
        for (var received = 0; received < messages.Count;)
        {
            foreach (var message in await transport.ReceiveAsync("bulk", 10, TimeSpan.FromMinutes(5), default))
            {
                await message.DeadLetterAsync(Bus.Transports.FailureDetails.From("bulk failure", null, 1, "bulk", DateTimeOffset.UtcNow), default);
                received++;
            }
        }

        var run = await RunAsync(["dlq", "redrive", "bulk", "--type", "bulk.item"], input: null);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("Redrove 200 dead letters of bulk.", run.Out);
        Assert.Contains("Redriving 200 dead letters of bulk", run.Error); // the progress bar's task, on standard error
        var counts = await transport.Statistics.GetAsync("bulk", default);
        Assert.Equal((200L, 50L), (counts.Ready, counts.DeadLettered));
    }

    [Fact]
    public async Task A_database_that_does_not_exist_is_refused_without_creating_it()
    {
        var missing = Path.Combine(Path.GetDirectoryName(_database)!, "nope.db");

        var run = await BusTool.RunAsync(["queues", "--transport", "sqlite", "--sqlite", missing]);

        Assert.Equal(3, run.ExitCode);
        Assert.Contains("There is no SQLite database at", run.Error);
        Assert.False(File.Exists(missing));
    }
}

/// <summary><c>bus jobs</c> and <c>bus workflows show</c> read the SQLite stores (the transport's file, or --store-sqlite).</summary>
public sealed class SqliteStoreCliTests
{
    private readonly string _database = Path.Combine(Directory.CreateTempSubdirectory("bus-cli-").FullName, "bus.db");

    [Fact]
    public async Task Jobs_and_workflows_are_read_from_the_store()
    {
        var at = new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
        await Bus.Sqlite.SqliteJobStatusStore.ForFile(_database).SaveAsync(
            new Bus.Jobs.JobStatus("job-1", "billing.close-month", Bus.Jobs.JobState.Running, 40, 100, 1, at), default);
        using (var workflows = Bus.Sqlite.SqliteWorkflowStore.ForFile(_database))
        {
            await workflows.InsertAsync(new Bus.Workflows.WorkflowInstance(
                "order", "wf-1", "o-17", 1, Bus.Workflows.WorkflowStatus.Running, """{"orderId":"o-17","amount":12.5}""",
                [new Bus.Workflows.WorkflowHistoryEntry(at, "shop.place-order", "m-1", "started")], at, at), default);
        }

        string[] store = ["--store-sqlite", _database, "--transport", "sqlite", "--sqlite", _database];
        var running = await BusTool.RunAsync(["jobs", "-o", "json", .. store]);
        Assert.True(running.ExitCode == 0, running.ToString());
        var job = Assert.Single(running.Json().EnumerateArray());
        Assert.Equal("job-1", job.GetProperty("messageId").GetString());
        Assert.Equal(40, job.GetProperty("done").GetInt64());
        Assert.Equal("running", job.GetProperty("state").GetString());

        var table = await BusTool.RunAsync(["jobs", "show", "job-1", .. store]);
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("40/100 (40%)", table.Out);
        Assert.Equal(4, (await BusTool.RunAsync(["jobs", "show", "job-404", .. store])).ExitCode);
        Assert.Empty((await BusTool.RunAsync(["jobs", "--state", "Completed", "-o", "json", .. store])).Json().EnumerateArray());

        var listed = await BusTool.RunAsync(["workflows", "list", "order", "--status", "Running", "-o", "json", .. store]);
        Assert.True(listed.ExitCode == 0, listed.ToString());
        Assert.Equal("wf-1", Assert.Single(listed.Json().EnumerateArray()).GetProperty("id").GetString());
        Assert.Empty((await BusTool.RunAsync(["workflows", "list", "--status", "Failed", "-o", "json", .. store])).Json().EnumerateArray());
        Assert.Contains("o-17", (await BusTool.RunAsync(["workflows", "list", .. store])).Out);

        var byCorrelation = await BusTool.RunAsync(["workflows", "show", "order", "--correlation", "o-17", "-o", "json", .. store]);
        Assert.True(byCorrelation.ExitCode == 0, byCorrelation.ToString());
        var instance = byCorrelation.Json();
        Assert.Equal("wf-1", instance.GetProperty("id").GetString());
        Assert.Equal(12.5, instance.GetProperty("state").GetProperty("amount").GetDouble());
        Assert.Equal("shop.place-order", instance.GetProperty("history")[0].GetProperty("messageType").GetString());
        var byId = await BusTool.RunAsync(["workflows", "show", "order", "wf-1", .. store]);
        Assert.Contains("o-17", byId.Out);
        Assert.Equal(4, (await BusTool.RunAsync(["workflows", "show", "order", "wf-404", .. store])).ExitCode);
        Assert.Equal(2, (await BusTool.RunAsync(["workflows", "show", "order", .. store])).ExitCode);
    }
}

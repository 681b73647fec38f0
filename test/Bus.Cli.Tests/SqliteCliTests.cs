using Bus.Hosting;
using Bus.Schedules;
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
        Assert.Equal("wf-1", Assert.Single(listed.Json().GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        Assert.Empty((await BusTool.RunAsync(["workflows", "list", "order", "--status", "Failed", "-o", "json", .. store])).Json().GetProperty("items").EnumerateArray());
        Assert.Contains("o-17", (await BusTool.RunAsync(["workflows", "list", "order", .. store])).Out);

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

/// <summary><c>bus workflows list</c> pages through a workflow's instances; <c>bus schedules</c> lists, pauses and resumes
/// schedules in the SQLite schedule store, with the definitions the endpoints registered there.</summary>
public sealed class SqliteListingCliTests
{
    private static readonly DateTimeOffset At = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly string _folder = Directory.CreateTempSubdirectory("bus-cli-").FullName;

    private string Database => Path.Combine(_folder, "bus.db");

    private string[] Store => ["--transport", "sqlite", "--sqlite", Database];

    [Fact]
    public async Task Workflows_list_pages_newest_first_or_by_id_and_filters_by_status()
    {
        using (var workflows = Bus.Sqlite.SqliteWorkflowStore.ForFile(Database))
        {
            foreach (var (id, minutes, status) in new[] { ("wf-b", 1, Bus.Workflows.WorkflowStatus.Completed), ("wf-c", 2, Bus.Workflows.WorkflowStatus.Running), ("wf-a", 3, Bus.Workflows.WorkflowStatus.Failed) })
            {
                await workflows.InsertAsync(new Bus.Workflows.WorkflowInstance(
                    "order", id, "o-" + id, 1, status, "{}", [], At.AddMinutes(minutes), At.AddMinutes(minutes), status == Bus.Workflows.WorkflowStatus.Failed ? "card declined" : null), default);
            }
        }

        var first = await BusTool.RunAsync(["workflows", "list", "order", "--limit", "2", "-o", "json", .. Store]);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal(["wf-a", "wf-c"], first.Json().GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()));
        var token = first.Json().GetProperty("continuationToken").GetString();
        Assert.NotNull(token);
        var second = await BusTool.RunAsync(["workflows", "list", "order", "--limit", "2", "--continue", token, "-o", "json", .. Store]);
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal("wf-b", Assert.Single(second.Json().GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, second.Json().GetProperty("continuationToken").ValueKind);

        var byId = await BusTool.RunAsync(["workflows", "list", "order", "--order", "id", "-o", "json", .. Store]);
        Assert.Equal(["wf-a", "wf-b", "wf-c"], byId.Json().GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()));
        var failed = await BusTool.RunAsync(["workflows", "list", "order", "--status", "Failed", .. Store]);
        Assert.True(failed.ExitCode == 0, failed.ToString());
        Assert.Contains("card declined", failed.Out);
        Assert.DoesNotContain("wf-b", failed.Out);
        var table = await BusTool.RunAsync(["workflows", "list", "order", "--limit", "1", .. Store]);
        Assert.Contains("More: bus workflows list order --continue ", table.Error);
        Assert.Contains("No instances of workflow 'nothing' match.", (await BusTool.RunAsync(["workflows", "list", "nothing", .. Store])).Out);

        Assert.Equal(2, (await BusTool.RunAsync(["workflows", "list", .. Store])).ExitCode);
        var limit = await BusTool.RunAsync(["workflows", "list", "order", "--limit", "0", .. Store]);
        Assert.Equal(2, limit.ExitCode);
        Assert.Contains("--limit must be between 1 and 1000", limit.Error);
        var garbage = await BusTool.RunAsync(["workflows", "list", "order", "--continue", "garbage!", .. Store]);
        Assert.Equal(2, garbage.ExitCode);
        Assert.Contains("continuation token", garbage.Error);
        Assert.Equal(2, (await BusTool.RunAsync(["workflows", "list", "order", "--status", "Sleeping", .. Store])).ExitCode);
        Assert.Equal(2, (await BusTool.RunAsync(["workflows", "list", "order", "--order", "oldest", .. Store])).ExitCode);
    }

    [Fact]
    public async Task Schedules_list_pause_and_resume_with_the_definitions_the_endpoints_registered_in_the_store()
    {
        var registeredAt = DateTimeOffset.UtcNow.AddMinutes(-5);
        using (var store = Bus.Sqlite.SqliteScheduleStore.ForFile(Database))
        {
            await store.RegisterAsync("nightly-report", new ScheduleDefinition("billing.nightly-report", "0 2 * * *", "Europe/Oslo", MissedTicks.FireOnce, registeredAt), default);
            Assert.True(await store.TryClaimAsync("nightly-report", At, At.AddSeconds(3), default));
            await store.RegisterAsync("hourly-sync", new ScheduleDefinition("sync.run", "15 * * * *", "UTC", MissedTicks.Skip, registeredAt), default);
            // Removed from the code a month ago: its record stays, with its old registration time.
            await store.RegisterAsync("old-cleanup", new ScheduleDefinition("cleanup", "0 4 * * 0", "UTC", MissedTicks.FireOnce, At), default);
        }

        var listed = await BusTool.RunAsync(["schedules", "list", "-o", "json", .. Store]);
        Assert.True(listed.ExitCode == 0, listed.ToString());
        var rows = listed.Json().EnumerateArray().ToList();
        Assert.Equal(["hourly-sync", "nightly-report", "old-cleanup"], rows.Select(r => r.GetProperty("name").GetString()));
        var nightly = rows[1];
        Assert.Equal("billing.nightly-report", nightly.GetProperty("messageType").GetString());
        Assert.Equal("0 2 * * *", nightly.GetProperty("cron").GetString());
        Assert.Equal("Europe/Oslo", nightly.GetProperty("timeZone").GetString());
        Assert.Equal("fireOnce", nightly.GetProperty("missed").GetString());
        Assert.Equal(At, nightly.GetProperty("lastFiring").GetDateTimeOffset());
        Assert.Equal(At.AddSeconds(3), nightly.GetProperty("lastFiredAt").GetDateTimeOffset());
        Assert.Equal(registeredAt, nightly.GetProperty("registeredAt").GetDateTimeOffset());
        Assert.False(nightly.GetProperty("paused").GetBoolean());
        var next = nightly.GetProperty("nextFiring").GetDateTimeOffset();
        var oslo = TimeZoneInfo.ConvertTime(next, TimeZoneInfo.FindSystemTimeZoneById("Europe/Oslo"));
        Assert.Equal((2, 0), (oslo.Hour, oslo.Minute));
        Assert.InRange(next, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
        Assert.Equal(15, rows[0].GetProperty("nextFiring").GetDateTimeOffset().Minute);
        Assert.Equal("skip", rows[0].GetProperty("missed").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, rows[0].GetProperty("lastFiring").ValueKind);
        Assert.Equal(At, rows[2].GetProperty("registeredAt").GetDateTimeOffset());

        var paused = await BusTool.RunAsync(["schedules", "pause", "nightly-report", .. Store]);
        Assert.True(paused.ExitCode == 0, paused.ToString());
        Assert.Contains("Paused nightly-report.", paused.Out);
        using (var store = Bus.Sqlite.SqliteScheduleStore.ForFile(Database))
        {
            Assert.True((await store.GetAsync("nightly-report", default))?.Paused);
            Assert.False(await store.TryClaimAsync("nightly-report", At.AddDays(1), At.AddDays(1), default));
        }

        var table = await BusTool.RunAsync(["schedules", "list", .. Store]);
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("paused", table.Out);
        Assert.Contains("Europe/Oslo", table.Out);
        Assert.Contains("billing.nightly-report", table.Out);
        Assert.Contains(Utc(At), table.Out);
        var whilePaused = Assert.Single((await BusTool.RunAsync(["schedules", "list", "nightly-report", "-o", "json", .. Store])).Json().EnumerateArray());
        Assert.True(whilePaused.GetProperty("paused").GetBoolean());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, whilePaused.GetProperty("nextFiring").ValueKind);

        var resumed = await BusTool.RunAsync(["schedules", "resume", "nightly-report", "-o", "json", .. Store]);
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.False(resumed.Json().GetProperty("paused").GetBoolean());
        Assert.Equal("0 2 * * *", resumed.Json().GetProperty("cron").GetString());
        using (var store = Bus.Sqlite.SqliteScheduleStore.ForFile(Database))
        {
            var state = await store.GetAsync("nightly-report", default);
            Assert.False(state?.Paused);
            Assert.NotNull(state?.ResumedAt);
        }

        // A name the store does not know is refused, not created.
        var unknown = await BusTool.RunAsync(["schedules", "pause", "nightly-reprot", .. Store]);
        Assert.Equal(4, unknown.ExitCode);
        Assert.Contains("No schedule 'nightly-reprot' in the store", unknown.Error);
        Assert.Contains("hourly-sync, nightly-report, old-cleanup", unknown.Error);
        Assert.Equal(4, (await BusTool.RunAsync(["schedules", "list", "nightly-reprot", .. Store])).ExitCode);
        using (var store = Bus.Sqlite.SqliteScheduleStore.ForFile(Database))
        {
            Assert.Null(await store.GetAsync("nightly-reprot", default));
            // A stored expression this tool cannot read: listed without a next firing, with a note.
            await store.RegisterAsync("broken", new ScheduleDefinition("x", "every tuesday", "UTC", MissedTicks.FireOnce, registeredAt), default);
        }

        var bad = await BusTool.RunAsync(["schedules", "list", "broken", "-o", "json", .. Store]);
        Assert.True(bad.ExitCode == 0, bad.ToString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, Assert.Single(bad.Json().EnumerateArray()).GetProperty("nextFiring").ValueKind);
        Assert.Contains("Schedule broken: the next firing is not shown", bad.Error);
        Assert.Equal(2, (await BusTool.RunAsync(["schedules", "pause", .. Store])).ExitCode);
    }

    [Fact]
    public async Task Schedules_list_of_an_empty_store_says_that_endpoints_record_their_schedules_when_they_start()
    {
        using (var store = Bus.Sqlite.SqliteScheduleStore.ForFile(Database))
        {
            Assert.Empty(await store.ListAsync(default));
        }

        var none = await BusTool.RunAsync(["schedules", "list", .. Store]);
        Assert.True(none.ExitCode == 0, none.ToString());
        Assert.Contains("No schedules in the store", none.Out);
        Assert.Empty((await BusTool.RunAsync(["schedules", "list", "-o", "json", .. Store])).Json().EnumerateArray());
        var pause = await BusTool.RunAsync(["schedules", "pause", "nightly", .. Store]);
        Assert.Equal(4, pause.ExitCode);
        Assert.Contains("an endpoint records its schedules when it starts", pause.Error);
    }

    [Fact]
    public async Task Schedules_remove_shows_the_record_asks_first_and_deletes_it_only_when_confirmed()
    {
        using (var store = Bus.Sqlite.SqliteScheduleStore.ForFile(Database))
        {
            // Removed from the code a month ago: its record stays until removed.
            await store.RegisterAsync("old-cleanup", new ScheduleDefinition("cleanup", "0 4 * * 0", "UTC", MissedTicks.FireOnce, At), default);
            Assert.True(await store.TryClaimAsync("old-cleanup", At.AddDays(2), At.AddDays(2), default));
            await store.RegisterAsync("nightly-report", new ScheduleDefinition("billing.nightly-report", "0 2 * * *", "Europe/Oslo", MissedTicks.FireOnce, At), default);
            await store.SetPausedAsync("nightly-report", true, At, default);
        }

        var refused = await BusTool.RunAsync(["schedules", "remove", "old-cleanup", .. Store], input: "n\n");
        Assert.Equal(5, refused.ExitCode);
        Assert.Contains($"Schedule old-cleanup: sends cleanup at '0 4 * * 0' (UTC), last registered by an endpoint {Utc(At)}; last firing {Utc(At.AddDays(2))}.", refused.Error);
        Assert.Contains("An endpoint that still has this schedule in its code goes on firing it", refused.Error);
        Assert.Contains("records it again when it starts", refused.Error);
        Assert.Contains("Remove schedule old-cleanup from the store? [y/N]", refused.Error);
        Assert.Contains("Nothing removed. Pass --yes", refused.Error);
        var noAnswer = await BusTool.RunAsync(["schedules", "remove", "old-cleanup", "-o", "json", .. Store], input: "");
        Assert.Equal(5, noAnswer.ExitCode);
        Assert.Empty(noAnswer.Out);
        using (var store = Bus.Sqlite.SqliteScheduleStore.ForFile(Database))
        {
            Assert.NotNull(await store.GetAsync("old-cleanup", default));
        }

        var confirmed = await BusTool.RunAsync(["schedules", "remove", "old-cleanup", "-o", "json", .. Store], input: "y\n");
        Assert.True(confirmed.ExitCode == 0, confirmed.ToString());
        var removed = confirmed.Json().GetProperty("removed");
        Assert.Equal("old-cleanup", removed.GetProperty("name").GetString());
        Assert.Equal("0 4 * * 0", removed.GetProperty("cron").GetString());
        Assert.Equal(At.AddDays(2), removed.GetProperty("lastFiring").GetDateTimeOffset());
        var paused = await BusTool.RunAsync(["schedules", "remove", "nightly-report", "--yes", .. Store]);
        Assert.True(paused.ExitCode == 0, paused.ToString());
        Assert.Contains("Removed nightly-report.", paused.Out);
        Assert.DoesNotContain("[y/N]", paused.Error);
        using (var store = Bus.Sqlite.SqliteScheduleStore.ForFile(Database))
        {
            Assert.Null(await store.GetAsync("old-cleanup", default));
            Assert.Null(await store.GetAsync("nightly-report", default));
            Assert.Empty(await store.ListAsync(default));
        }

        Assert.Empty((await BusTool.RunAsync(["schedules", "list", "-o", "json", .. Store])).Json().EnumerateArray());
        var again = await BusTool.RunAsync(["schedules", "remove", "nightly-report", "--yes", .. Store]);
        Assert.Equal(4, again.ExitCode);
        Assert.Contains("No schedule 'nightly-report' in the store", again.Error);
        Assert.Equal(2, (await BusTool.RunAsync(["schedules", "remove", "--yes", .. Store])).ExitCode);
    }

    private static string Utc(DateTimeOffset at) => at.ToString("yyyy-MM-dd HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
}

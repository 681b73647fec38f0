using Bus.Hosting;
using Bus.PostgreSql;
using Npgsql;

namespace Bus.Cli.Tests;

/// <summary>The test PostgreSQL server (build/start-postgres.sh) and a schema of one test class's own.</summary>
internal static class TestPostgres
{
    public static string ConnectionString =>
        Environment.GetEnvironmentVariable("BUS_POSTGRES_CONNECTION_STRING") is { Length: > 0 } configured
            ? configured
            : $"Host=127.0.0.1;Port={Environment.GetEnvironmentVariable("BUS_POSTGRES_PORT") ?? "5433"};Username=bus;Database=postgres";

    public static string NewSchema() => "cli_" + Guid.NewGuid().ToString("N")[..16];

    public static async Task DropAsync(string schema)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP SCHEMA IF EXISTS \"{schema}\" CASCADE;", connection);
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>The tool against an endpoint on PostgreSQL, connected with --transport postgresql --postgres --postgres-schema.</summary>
public sealed class PostgreSqlCliTests : CliTests
{
    private readonly string _schema = TestPostgres.NewSchema();

    protected override IReadOnlyList<string> Connection => ["--transport", "postgresql", "--postgres", TestPostgres.ConnectionString, "--postgres-schema", _schema];

    protected override void UseTransport(BusConfiguration bus) => bus.UsePostgreSql(o =>
    {
        o.ConnectionString = TestPostgres.ConnectionString;
        o.Schema = _schema;
        o.PollInterval = TimeSpan.FromMilliseconds(100); // the tool writes from another process
    });

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await TestPostgres.DropAsync(_schema);
    }
}

/// <summary>The PostgreSQL connector's stores: workflows, jobs and schedules from the transport's database and schema
/// (settings from environment variables here).</summary>
public sealed class PostgreSqlStoreCliTests : IAsyncLifetime
{
    private readonly string _schema = TestPostgres.NewSchema();

    private Dictionary<string, string?> Environment => new()
    {
        ["BUS__TRANSPORT"] = "postgresql",
        ["BUS__POSTGRESQL__CONNECTIONSTRING"] = TestPostgres.ConnectionString,
        ["BUS__POSTGRESQL__SCHEMA"] = _schema,
    };

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => TestPostgres.DropAsync(_schema);

    [Fact]
    public async Task Workflows_jobs_and_schedules_are_read_from_the_transport_database()
    {
        var at = new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
        await using (var workflows = new PostgreSqlWorkflowStore(TestPostgres.ConnectionString, _schema))
        {
            await workflows.InsertAsync(new Bus.Workflows.WorkflowInstance("order", "wf-1", "o-1", 1, Bus.Workflows.WorkflowStatus.Running, "{}", [], at, at), default);
            await workflows.InsertAsync(new Bus.Workflows.WorkflowInstance("order", "wf-2", "o-2", 1, Bus.Workflows.WorkflowStatus.Failed, "{}", [], at.AddMinutes(1), at, "out of stock"), default);
        }

        await new PostgreSqlJobStatusStore(TestPostgres.ConnectionString, _schema).SaveAsync(
            new Bus.Jobs.JobStatus("job-1", "billing.close-month", Bus.Jobs.JobState.Running, 3, 10, 1, at), default);

        var listed = await BusTool.RunAsync(["workflows", "list", "order", "--limit", "1", "-o", "json"], environment: Environment);
        Assert.True(listed.ExitCode == 0, listed.ToString());
        Assert.Equal("wf-2", Assert.Single(listed.Json().GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        var token = listed.Json().GetProperty("continuationToken").GetString()!;
        var rest = await BusTool.RunAsync(["workflows", "list", "order", "--continue", token, "-o", "json"], environment: Environment);
        Assert.Equal("wf-1", Assert.Single(rest.Json().GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        Assert.Contains("out of stock", (await BusTool.RunAsync(["workflows", "show", "order", "--correlation", "o-2"], environment: Environment)).Out);
        var job = await BusTool.RunAsync(["jobs", "show", "job-1"], environment: Environment);
        Assert.True(job.ExitCode == 0, job.ToString());
        Assert.Contains("3/10 (30%)", job.Out);

        await using (var schedules = new PostgreSqlScheduleStore(TestPostgres.ConnectionString, _schema))
        {
            await schedules.RegisterAsync("nightly", new Bus.Schedules.ScheduleDefinition("report", "0 2 * * *", "Europe/Oslo", Bus.Schedules.MissedTicks.Skip, at), default);
            Assert.True(await schedules.TryClaimAsync("nightly", at, at.AddSeconds(2), default));
        }

        var listed2 = await BusTool.RunAsync(["schedules", "list", "-o", "json"], environment: Environment);
        Assert.True(listed2.ExitCode == 0, listed2.ToString());
        var row = Assert.Single(listed2.Json().EnumerateArray());
        Assert.Equal("nightly", row.GetProperty("name").GetString());
        Assert.Equal("0 2 * * *", row.GetProperty("cron").GetString());
        Assert.Equal("Europe/Oslo", row.GetProperty("timeZone").GetString());
        Assert.Equal(at, row.GetProperty("registeredAt").GetDateTimeOffset());
        Assert.Equal(2, TimeZoneInfo.ConvertTime(row.GetProperty("nextFiring").GetDateTimeOffset(), TimeZoneInfo.FindSystemTimeZoneById("Europe/Oslo")).Hour);
        Assert.Equal(at, row.GetProperty("lastFiring").GetDateTimeOffset());
        Assert.False(row.GetProperty("paused").GetBoolean());

        var paused = await BusTool.RunAsync(["schedules", "pause", "nightly"], environment: Environment);
        Assert.True(paused.ExitCode == 0, paused.ToString());
        await using (var schedules = new PostgreSqlScheduleStore(TestPostgres.ConnectionString, _schema))
        {
            Assert.True((await schedules.GetAsync("nightly", default))?.Paused);
            Assert.False(await schedules.TryClaimAsync("nightly", at.AddDays(1), at.AddDays(1), default));
        }

        Assert.Equal(0, (await BusTool.RunAsync(["schedules", "resume", "nightly"], environment: Environment)).ExitCode);
        await using (var schedules = new PostgreSqlScheduleStore(TestPostgres.ConnectionString, _schema))
        {
            Assert.False((await schedules.GetAsync("nightly", default))?.Paused);
        }

        Assert.Equal(4, (await BusTool.RunAsync(["schedules", "pause", "weekly"], environment: Environment)).ExitCode);
    }

    [Fact]
    public async Task Schedules_remove_deletes_the_record_from_the_transport_database_only_when_confirmed()
    {
        var at = new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
        await using (var schedules = new PostgreSqlScheduleStore(TestPostgres.ConnectionString, _schema))
        {
            await schedules.RegisterAsync("stale", new Bus.Schedules.ScheduleDefinition("report", "0 2 * * *", "Europe/Oslo", Bus.Schedules.MissedTicks.Skip, at), default);
            Assert.True(await schedules.TryClaimAsync("stale", at, at, default));
            await schedules.RegisterAsync("kept", new Bus.Schedules.ScheduleDefinition("sync", "*/5 * * * *", "UTC", Bus.Schedules.MissedTicks.FireOnce, at), default);
        }

        var refused = await BusTool.RunAsync(["schedules", "remove", "stale"], input: "no\n", environment: Environment);
        Assert.Equal(5, refused.ExitCode);
        Assert.Contains("Schedule stale: sends report at '0 2 * * *' (Europe/Oslo)", refused.Error);
        var removed = await BusTool.RunAsync(["schedules", "remove", "stale", "--yes", "-o", "json"], environment: Environment);
        Assert.True(removed.ExitCode == 0, removed.ToString());
        Assert.Equal("stale", removed.Json().GetProperty("removed").GetProperty("name").GetString());
        await using (var schedules = new PostgreSqlScheduleStore(TestPostgres.ConnectionString, _schema))
        {
            Assert.Null(await schedules.GetAsync("stale", default));
            Assert.Equal(["kept"], (await schedules.ListAsync(default)).Select(s => s.Name));
        }

        var unknown = await BusTool.RunAsync(["schedules", "remove", "stale", "--yes"], environment: Environment);
        Assert.Equal(4, unknown.ExitCode);
        Assert.Contains("The store has: kept.", unknown.Error);
    }

    [Fact]
    public async Task Missing_or_invalid_postgres_settings_exit_3_and_say_what_to_pass()
    {
        var missing = await BusTool.RunAsync(["queues", "--transport", "postgresql"]);
        Assert.Equal(3, missing.ExitCode);
        Assert.Contains("--postgres", missing.Error);

        var schema = await BusTool.RunAsync(["queues", "--transport", "postgresql", "--postgres", TestPostgres.ConnectionString, "--postgres-schema", "no way;"]);
        Assert.Equal(3, schema.ExitCode);
        Assert.Contains("The PostgreSQL settings are invalid", schema.Error);

        var unreachable = await BusTool.RunAsync(["queues", "--transport", "postgresql", "--postgres", "Host=127.0.0.1;Port=1;Username=bus;Timeout=2"]);
        Assert.Equal(1, unreachable.ExitCode);
    }
}

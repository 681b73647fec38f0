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
    public async Task A_database_that_does_not_exist_is_refused_without_creating_it()
    {
        var missing = Path.Combine(Path.GetDirectoryName(_database)!, "nope.db");

        var run = await BusTool.RunAsync(["queues", "--transport", "sqlite", "--sqlite", missing]);

        Assert.Equal(3, run.ExitCode);
        Assert.Contains("There is no SQLite database at", run.Error);
        Assert.False(File.Exists(missing));
    }
}

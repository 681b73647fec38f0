using Bus.Conformance;
using Bus.Hosting;
using Bus.Steps;
using Bus.Testing;
using Bus.Workflows;

namespace Bus.Sqlite.Tests;

public sealed class SqliteStepStoreContractTests : StepStoreContractTests, IDisposable
{
    private readonly TempDatabase _database = new();
    private readonly List<SqliteStepStore> _stores = [];

    protected override IStepStore CreateStore(TimeProvider time)
    {
        var store = new SqliteStepStore(_database.ConnectionString, time);
        _stores.Add(store);
        return store;
    }

    [Fact]
    public async Task Steps_survive_reopening_the_file()
    {
        var job = NewJobId();
        using (var first = SqliteStepStore.ForFile(_database.Path))
        {
            await first.SaveAsync(job, "download", "\"file.csv\"", default);
            await first.SaveAsync(job, "parse", "42", default);
        }

        using var reopened = SqliteStepStore.ForFile(_database.Path);
        Assert.Equal("\"file.csv\"", await reopened.GetAsync(job, "download", default));
        Assert.Equal(["download", "parse"], await reopened.ListAsync(job, default));
    }

    [Fact]
    public async Task Two_stores_on_one_file_share_steps_and_the_first_result_wins()
    {
        var job = NewJobId();
        var one = CreateStore();
        using var two = new SqliteStepStore(_database.ConnectionString + ";Pooling=False");

        await one.SaveAsync(job, "charge", "\"one\"", default);
        await two.SaveAsync(job, "charge", "\"two\"", default);

        Assert.Equal("\"one\"", await two.GetAsync(job, "charge", default));
    }

    public void Dispose()
    {
        foreach (var store in _stores)
        {
            store.Dispose();
        }

        _database.Dispose();
    }
}

public sealed class SqliteWorkflowStoreContractTests : WorkflowStoreContractTests, IDisposable
{
    private readonly TempDatabase _database = new();
    private readonly List<SqliteWorkflowStore> _stores = [];

    protected override IWorkflowStore CreateStore()
    {
        var store = new SqliteWorkflowStore(_database.ConnectionString);
        _stores.Add(store);
        return store;
    }

    [Fact]
    public async Task Instances_survive_reopening_the_file()
    {
        var name = NewWorkflowName();
        var instance = NewInstance(name, "order-9") with { UpdatedAt = new DateTimeOffset(2026, 2, 1, 8, 0, 0, TimeSpan.FromHours(2)) };
        using (var first = SqliteWorkflowStore.ForFile(_database.Path))
        {
            await first.InsertAsync(instance, default);
            await first.UpdateAsync(instance with { Status = WorkflowStatus.Failed, FailureReason = "gave up" }, 1, default);
        }

        using var reopened = SqliteWorkflowStore.ForFile(_database.Path);
        var stored = await reopened.FindAsync(name, "order-9", default);
        AssertSame(instance with { Version = 2, Status = WorkflowStatus.Failed, FailureReason = "gave up" }, stored);
        Assert.Equal(TimeSpan.FromHours(2), stored!.UpdatedAt.Offset);
        await Assert.ThrowsAsync<WorkflowConcurrencyException>(() => reopened.UpdateAsync(stored, 1, default));
    }

    public void Dispose()
    {
        foreach (var store in _stores)
        {
            store.Dispose();
        }

        _database.Dispose();
    }
}

public sealed class SqliteJobStatusStoreContractTests : JobStatusStoreContractTests, IDisposable
{
    private readonly TempDatabase _database = new();
    private readonly List<SqliteJobStatusStore> _stores = [];

    protected override Jobs.IJobStatusStore CreateStore()
    {
        var store = new SqliteJobStatusStore(_database.ConnectionString);
        _stores.Add(store);
        return store;
    }

    public void Dispose()
    {
        foreach (var store in _stores)
        {
            store.Dispose();
        }

        _database.Dispose();
    }
}

public sealed class SqliteScheduleStoreContractTests : ScheduleStoreContractTests, IDisposable
{
    private readonly TempDatabase _database = new();
    private readonly List<SqliteScheduleStore> _stores = [];

    /// <summary>Each store is another process's view of the same file.</summary>
    protected override Schedules.IScheduleStore CreateStore()
    {
        var store = new SqliteScheduleStore(_database.ConnectionString);
        _stores.Add(store);
        return store;
    }

    [Fact]
    public async Task A_table_of_the_first_version_is_migrated_keeping_its_records_which_have_no_definition_until_registered()
    {
        var tick = new DateTimeOffset(2026, 12, 6, 2, 0, 0, TimeSpan.Zero);
        var v1 = new Sqlite.Schema.SqliteDatabase(_database.ConnectionString);
        await v1.EnsureSchemaAsync(Sqlite.Schema.Migrations.SchedulesComponent, Sqlite.Schema.Migrations.Schedules.Take(1).ToList(), default);
        await using (var connection = await v1.OpenAsync(default))
        await using (var insert = connection.CreateCommand())
        {
            insert.CommandText = "INSERT INTO bus_schedules (name, last_tick, last_fired_at, paused) VALUES ('old', $tick, $tick, 1);";
            insert.Parameters.AddWithValue("$tick", tick.UtcTicks);
            await insert.ExecuteNonQueryAsync();
        }

        var store = CreateStore();
        Assert.Equal([new Schedules.ScheduleState("old", tick, tick, true, null)], await store.ListAsync(default));
        var definition = new Schedules.ScheduleDefinition("report", "0 2 * * *", "UTC", Schedules.MissedTicks.FireOnce, tick.AddDays(1));
        await store.RegisterAsync("old", definition, default);
        Assert.Equal(new Schedules.ScheduleState("old", tick, tick, true, null, definition), await store.GetAsync("old", default));
    }

    public void Dispose()
    {
        foreach (var store in _stores)
        {
            store.Dispose();
        }

        _database.Dispose();
    }
}

/// <summary>Two buses on one database file: each tick fires once and a pause holds for both.</summary>
public sealed class SqliteScheduleStoreTwoHostsTests : ScheduleStoreTwoHostsTests
{
    private readonly TempDatabase _database = new();

    protected override void UseScheduleStore(BusConfiguration bus) => bus.UseSqliteScheduleStore(_database.Path);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _database.Dispose();
    }
}

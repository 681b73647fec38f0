using Bus.Conformance;
using Bus.Hosting;
using Bus.Steps;
using Bus.Workflows;

namespace Bus.PostgreSql.Tests;

public sealed class PostgreSqlStepStoreContractTests : StepStoreContractTests, IAsyncLifetime
{
    private readonly TestSchema _schema = new();
    private readonly List<PostgreSqlStepStore> _stores = [];

    protected override IStepStore CreateStore(TimeProvider time)
    {
        var store = new PostgreSqlStepStore(_schema.ConnectionString, _schema.Name, time);
        _stores.Add(store);
        return store;
    }

    [Fact]
    public async Task Two_stores_on_one_schema_share_steps_and_the_first_result_wins()
    {
        var job = NewJobId();
        var one = CreateStore();
        await using var two = new PostgreSqlStepStore(_schema.ConnectionString, _schema.Name);

        await one.SaveAsync(job, "charge", "\"one\"", default);
        await two.SaveAsync(job, "charge", "\"two\"", default);

        Assert.Equal("\"one\"", await two.GetAsync(job, "charge", default));
        Assert.Equal(["charge"], await two.ListAsync(job, default));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        await _schema.DisposeAsync();
    }
}

public sealed class PostgreSqlWorkflowStoreContractTests : WorkflowStoreContractTests, IAsyncLifetime
{
    private readonly TestSchema _schema = new();
    private readonly List<PostgreSqlWorkflowStore> _stores = [];

    protected override IWorkflowStore CreateStore()
    {
        var store = new PostgreSqlWorkflowStore(_schema.ConnectionString, _schema.Name);
        _stores.Add(store);
        return store;
    }

    [Fact]
    public async Task Two_stores_on_one_schema_see_each_others_instances_and_versions()
    {
        var name = NewWorkflowName();
        var instance = NewInstance(name, "order-9") with { UpdatedAt = new DateTimeOffset(2026, 2, 1, 8, 0, 0, TimeSpan.FromHours(2)) };
        var first = CreateStore();
        await first.InsertAsync(instance, default);
        await first.UpdateAsync(instance with { Status = WorkflowStatus.Failed, FailureReason = "gave up" }, 1, default);

        var second = CreateStore();
        var stored = await second.FindAsync(name, "order-9", default);
        AssertSame(instance with { Version = 2, Status = WorkflowStatus.Failed, FailureReason = "gave up" }, stored);
        Assert.Equal(TimeSpan.FromHours(2), stored!.UpdatedAt.Offset);
        await Assert.ThrowsAsync<WorkflowConcurrencyException>(() => second.UpdateAsync(stored, 1, default));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        await _schema.DisposeAsync();
    }
}

public sealed class PostgreSqlJobStatusStoreContractTests : JobStatusStoreContractTests, IAsyncLifetime
{
    private readonly TestSchema _schema = new();
    private readonly List<PostgreSqlJobStatusStore> _stores = [];

    protected override Jobs.IJobStatusStore CreateStore()
    {
        var store = new PostgreSqlJobStatusStore(_schema.ConnectionString, _schema.Name);
        _stores.Add(store);
        return store;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        await _schema.DisposeAsync();
    }
}

public sealed class PostgreSqlScheduleStoreContractTests : ScheduleStoreContractTests, IAsyncLifetime
{
    private readonly TestSchema _schema = new();
    private readonly List<PostgreSqlScheduleStore> _stores = [];

    protected override Schedules.IScheduleStore CreateStore()
    {
        var store = new PostgreSqlScheduleStore(_schema.ConnectionString, _schema.Name);
        lock (_stores)
        {
            _stores.Add(store);
        }

        return store;
    }

    [Fact]
    public async Task A_table_of_the_first_version_is_migrated_keeping_its_records_which_have_no_definition_until_registered()
    {
        var tick = new DateTimeOffset(2026, 12, 6, 2, 0, 0, TimeSpan.Zero);
        await using (var v1 = new Schema.PostgreSqlDatabase(_schema.ConnectionString, _schema.Name))
        {
            await using var connection = await v1.OpenAsync(Schema.Migrations.SchedulesComponent, Schema.Migrations.Schedules.Take(1).ToList(), default);
            await using var insert = v1.Command(connection, null, "INSERT INTO {schema}.schedules (name, last_tick, last_fired_at, paused) VALUES ('old', @tick, @tick, true);");
            insert.Parameters.AddWithValue("tick", tick.UtcTicks);
            await insert.ExecuteNonQueryAsync();
        }

        var store = CreateStore();
        Assert.Equal([new Schedules.ScheduleState("old", tick, tick, true, null)], await store.ListAsync(default));
        var definition = new Schedules.ScheduleDefinition("report", "0 2 * * *", "UTC", Schedules.MissedTicks.FireOnce, tick.AddDays(1));
        await store.RegisterAsync("old", definition, default);
        Assert.Equal(new Schedules.ScheduleState("old", tick, tick, true, null, definition), await store.GetAsync("old", default));
    }

    [Fact]
    public async Task The_schedules_table_is_versioned_as_a_component_of_its_own()
    {
        await CreateStore().GetAsync(NewName(), default);

        await using var connection = new Npgsql.NpgsqlConnection(_schema.ConnectionString);
        await connection.OpenAsync();
        await using var select = new Npgsql.NpgsqlCommand(
            $"SELECT component, version FROM \"{_schema.Name}\".schema_versions ORDER BY component;", connection);
        await using var reader = await select.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("schedules", reader.GetString(0));
        Assert.Equal(2, reader.GetInt32(1)); // 1: the table; 2: the registered definition
        Assert.False(await reader.ReadAsync());
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        await _schema.DisposeAsync();
    }
}

/// <summary>Two buses on one database, with the PostgreSQL transport: each tick fires once and a pause holds for both.</summary>
public sealed class PostgreSqlScheduleStoreTwoHostsTests : ScheduleStoreTwoHostsTests
{
    private readonly TestSchema _schema = new();

    protected override void UseScheduleStore(BusConfiguration bus) => bus.UsePostgreSqlScheduleStore(_schema.ConnectionString, _schema.Name);

    /// <summary>The PostgreSQL transport (shared between machines, so the start-up check accepts only shared stores).</summary>
    protected override void UseTransport(BusConfiguration bus)
    {
        bus.UsePostgreSql(o =>
        {
            o.ConnectionString = _schema.ConnectionString;
            o.Schema = _schema.Name;
            o.TimeProvider = Time;
        });
        bus.UsePostgreSqlStepStore(_schema.ConnectionString, _schema.Name);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _schema.DisposeAsync();
    }
}

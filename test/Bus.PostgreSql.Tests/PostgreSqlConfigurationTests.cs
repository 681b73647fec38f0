using Bus.Hosting;
using Bus.Steps;
using Bus.Transports;
using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bus.PostgreSql.Tests;

/// <summary>Bad configuration fails at start-up (or at configuration) with a message that names the problem.</summary>
public sealed class PostgreSqlConfigurationTests : IAsyncLifetime
{
    private readonly TestSchema _schema = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _schema.DisposeAsync().AsTask();

    [Fact]
    public async Task An_unreachable_server_fails_provisioning_naming_the_server()
    {
        await using var transport = new PostgreSqlTransport(new PostgreSqlTransportOptions
        {
            ConnectionString = "Host=127.0.0.1;Port=1;Username=bus;Timeout=5",
            Schema = _schema.Name,
        });

        var error = await Assert.ThrowsAsync<BusConfigurationException>(
            () => transport.ProvisionAsync(new TransportTopology("q", [], []), default));

        Assert.Contains("Could not connect to the PostgreSQL server 127.0.0.1:1", error.Message);
    }

    [Fact]
    public async Task A_schema_at_a_newer_version_fails_start_up_and_says_to_upgrade()
    {
        await using (var first = Transport())
        {
            await first.ProvisionAsync(new TransportTopology("q", [], []), default);
        }

        await TestSchema.ExecuteAsync($"UPDATE \"{_schema.Name}\".schema_versions SET version = 99 WHERE component = 'transport';");
        await using var older = Transport();

        var error = await Assert.ThrowsAsync<BusConfigurationException>(() => older.ProvisionAsync(new TransportTopology("q", [], []), default));

        Assert.Contains("transport schema version 99, newer than the 2", error.Message);
        Assert.Contains("Upgrade Bus.PostgreSql", error.Message);
    }

    [Fact]
    public async Task Migrations_are_recorded_per_component_and_run_once()
    {
        await using var transport = Transport();
        await transport.ProvisionAsync(new TransportTopology("q", [], []), default);
        await using var steps = new PostgreSqlStepStore(_schema.ConnectionString, _schema.Name);
        await steps.SaveAsync("job", "step", "1", default);
        await using var again = Transport(); // a second host: finds the schema current
        await again.ProvisionAsync(new TransportTopology("q", [], []), default);

        await using var connection = new Npgsql.NpgsqlConnection(_schema.ConnectionString);
        await connection.OpenAsync();
        await using var read = new Npgsql.NpgsqlCommand(
            $"SELECT string_agg(component || '=' || version, ',' ORDER BY component) FROM \"{_schema.Name}\".schema_versions;", connection);
        Assert.Equal("steps=1,transport=2", await read.ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_role_without_the_right_to_create_the_schema_fails_naming_the_role_and_the_grant()
    {
        var role = "bus_limited_" + Guid.NewGuid().ToString("N")[..8];
        await TestSchema.ExecuteAsync($"CREATE ROLE {role} LOGIN;");
        try
        {
            var builder = new Npgsql.NpgsqlConnectionStringBuilder(_schema.ConnectionString) { Username = role };
            await using var transport = new PostgreSqlTransport(new PostgreSqlTransportOptions
            {
                ConnectionString = builder.ConnectionString,
                Schema = _schema.Name,
            });

            var error = await Assert.ThrowsAsync<BusConfigurationException>(
                () => transport.ProvisionAsync(new TransportTopology("q", [], []), default));

            Assert.Contains($"The PostgreSQL role \"{role}\" lacks a right Bus needs on schema \"{_schema.Name}\"", error.Message);
            Assert.Contains("GRANT", error.Message);
        }
        finally
        {
            await TestSchema.ExecuteAsync($"DROP ROLE IF EXISTS {role};");
        }
    }

    [Fact]
    public async Task The_stores_create_their_tables_at_start_up_and_an_unreachable_server_stops_the_host()
    {
        var services = new ServiceCollection();
        services.AddBus(bus =>
        {
            bus.EndpointName = "pg-stores";
            bus.UseInMemoryTransport();
            bus.UsePostgreSqlStepStore("Host=127.0.0.1;Port=1;Username=bus;Timeout=5", _schema.Name);
        });
        await using var provider = services.BuildServiceProvider();
        var schemaService = provider.GetServices<IHostedService>().Single(s => s.GetType().Name == "PostgreSqlSchemaService");

        var error = await Assert.ThrowsAsync<BusConfigurationException>(() => schemaService.StartAsync(default));
        Assert.Contains("Could not connect", error.Message);

        var good = new ServiceCollection();
        good.AddBus(bus =>
        {
            bus.EndpointName = "pg-stores";
            bus.UseInMemoryTransport();
            bus.UsePostgreSqlStepStore(_schema.ConnectionString, _schema.Name)
                .UsePostgreSqlWorkflowStore(_schema.ConnectionString, _schema.Name)
                .UsePostgreSqlJobStatusStore(_schema.ConnectionString, _schema.Name)
                .UsePostgreSqlScheduleStore(_schema.ConnectionString, _schema.Name);
        });
        await using var goodProvider = good.BuildServiceProvider();
        Assert.IsType<PostgreSqlStepStore>(goodProvider.GetRequiredService<IStepStore>());
        Assert.IsType<PostgreSqlWorkflowStore>(goodProvider.GetRequiredService<IWorkflowStore>());
        Assert.IsType<PostgreSqlJobStatusStore>(goodProvider.GetRequiredService<Jobs.IJobStatusStore>());
        Assert.IsType<PostgreSqlScheduleStore>(goodProvider.GetRequiredService<Schedules.IScheduleStore>());
        await goodProvider.GetServices<IHostedService>().Single(s => s.GetType().Name == "PostgreSqlSchemaService").StartAsync(default);
        await TestSchema.ExecuteAsync($"SELECT 1 FROM \"{_schema.Name}\".steps, \"{_schema.Name}\".workflows, \"{_schema.Name}\".jobs, \"{_schema.Name}\".schedules;");
    }

    [Fact]
    public void Options_are_checked_when_configured()
    {
        var services = new ServiceCollection();

        Assert.Throws<ArgumentException>(() => services.AddBus(bus => bus.UsePostgreSql(" ")));
        Assert.Throws<ArgumentException>(() => services.AddBus(bus => bus.UsePostgreSql(_ => { })));
        Assert.Throws<ArgumentException>(() => services.AddBus(bus => bus.UsePostgreSql("Host=db", schema: "Bad-Name")));
        Assert.Throws<ArgumentException>(() => services.AddBus(bus => bus.UsePostgreSql("Database=app")));
        Assert.Throws<ArgumentException>(() => services.AddBus(bus => bus.UsePostgreSql("not a connection string")));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PostgreSqlTransportOptions { PollInterval = TimeSpan.Zero });
        Assert.Throws<ArgumentOutOfRangeException>(() => new PostgreSqlTransportOptions { MaxMessageSize = 0 });
        Assert.Throws<ArgumentException>(() => services.AddBus(bus => bus.UsePostgreSqlStepStore("")));
        Assert.Throws<ArgumentException>(() => services.AddBus(bus => bus.UsePostgreSqlWorkflowStore("Host=db", "1bad")));
        Assert.Throws<ArgumentException>(() => services.AddBus(bus => bus.UsePostgreSqlJobStatusStore("Host=db", new string('a', 49))));
        Assert.Throws<ArgumentException>(() => services.AddBus(bus => bus.UsePostgreSqlScheduleStore("Database=app")));
        Assert.Throws<ArgumentException>(() => services.AddBus(bus => bus.UsePostgreSqlScheduleStore("Host=db", "Bad-Name")));
        var error = Assert.Throws<ArgumentException>(() => new PostgreSqlTransportOptions { Schema = "Bad-Name" });
        Assert.Contains("lower-case letters", error.Message);
    }

    [Fact]
    public async Task The_transport_says_it_is_shared_between_hosts()
    {
        await using var transport = Transport();
        Assert.True(transport.Capabilities.SharedBetweenHosts);
        Assert.True(transport.Capabilities.CanRenewLease);
        Assert.True(transport.Capabilities.PublishSubscribe);
        Assert.True(transport.Capabilities.Redrive);
        Assert.Equal("postgresql", transport.Capabilities.Name);
    }

    [Fact]
    public async Task A_version_1_schema_is_upgraded_keeping_its_messages_at_priority_0_and_then_orders_by_priority()
    {
        var schema = $"\"{_schema.Name}\"";
        await TestSchema.ExecuteAsync($"CREATE SCHEMA IF NOT EXISTS {schema};" + Schema.Migrations.Transport[0].Replace("{schema}", schema, StringComparison.Ordinal) + $"""
            CREATE TABLE {schema}.schema_versions (component text NOT NULL PRIMARY KEY, version integer NOT NULL, updated_at timestamptz NOT NULL);
            INSERT INTO {schema}.schema_versions VALUES ('transport', 1, now());
            INSERT INTO {schema}.queues VALUES ('upgrade', now());
            INSERT INTO {schema}.messages (queue, message_id, headers, body, visible_at, enqueued_at)
            VALUES ('upgrade', 'old-1', '{"{"}"bus-message-id":"old-1"{"}"}', 'old'::bytea, 0, now());
            """);

        await using var transport = Transport();
        await transport.SendAsync([new OutgoingMessage(Destination.Queue("upgrade"), new TransportMessage(
            new Dictionary<string, string> { [MessageHeaders.Priority] = "4" }, System.Text.Encoding.UTF8.GetBytes("urgent")))], default);
        var batch = await transport.ReceiveAsync("upgrade", 10, TimeSpan.FromMinutes(5), default);

        Assert.Equal(["urgent", "old"], batch.Select(m => System.Text.Encoding.UTF8.GetString(m.Message.Body.Span)));
    }

    private PostgreSqlTransport Transport() =>
        new(new PostgreSqlTransportOptions { ConnectionString = _schema.ConnectionString, Schema = _schema.Name });
}

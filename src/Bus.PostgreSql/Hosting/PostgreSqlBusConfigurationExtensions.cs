using Bus.Jobs;
using Bus.PostgreSql;
using Bus.PostgreSql.Hosting;
using Bus.PostgreSql.Schema;
using Bus.PostgreSql.Transport;
using Bus.Schedules;
using Bus.Steps;
using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Bus.Hosting;

/// <summary>Registers the PostgreSQL transport and stores on a <see cref="BusConfiguration"/>.</summary>
public static class PostgreSqlBusConfigurationExtensions
{
    /// <summary>Uses the PostgreSQL transport on the database the Npgsql connection string names, with its tables in
    /// <paramref name="schema"/>.</summary>
    /// <exception cref="ArgumentException">The connection string or schema name is not valid (checked now).</exception>
    public static BusConfiguration UsePostgreSql(this BusConfiguration bus, string connectionString, string schema = SchemaName.Default)
    {
        PostgreSqlDatabase.Parse(connectionString);
        SchemaName.Validate(schema, nameof(schema));
        return bus.UsePostgreSql(options =>
        {
            options.ConnectionString = connectionString;
            options.Schema = schema;
        });
    }

    /// <summary>Uses the PostgreSQL transport with the given settings (checked now). The clock is the options'
    /// <see cref="PostgreSqlTransportOptions.TimeProvider"/>, else the container's <see cref="TimeProvider"/>, else the
    /// system clock. With <see cref="PostgreSqlTransportOptions.TransactionalSends"/> (the default) an incoming step is
    /// added that lets messages sent by handlers be written in the transaction that completes the handled message.</summary>
    /// <exception cref="ArgumentException">The settings name no server or are out of range.</exception>
    public static BusConfiguration UsePostgreSql(this BusConfiguration bus, Action<PostgreSqlTransportOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new PostgreSqlTransportOptions();
        configure(options);
        options.Validate();
        if (options.TransactionalSends && !bus.Services.Any(d => d.ServiceType == typeof(TransactionalSendsStep)))
        {
            bus.UseIncoming<TransactionalSendsStep>();
        }

        return bus.UseTransport(sp =>
        {
            var resolved = options.Clone();
            resolved.TimeProvider ??= sp.GetService<TimeProvider>();
            return new PostgreSqlTransport(resolved);
        });
    }

    /// <summary>Stores workflow instances (<see cref="IWorkflowStore"/>) in <paramref name="schema"/> of the PostgreSQL
    /// database the connection string names (e.g. the transport's), shared by every host whatever its transport,
    /// replacing any workflow store registered before. The table is created or migrated at start-up.</summary>
    /// <exception cref="ArgumentException">The connection string or schema name is not valid (checked now).</exception>
    public static BusConfiguration UsePostgreSqlWorkflowStore(this BusConfiguration bus, string connectionString, string schema = SchemaName.Default)
    {
        Check(bus, connectionString, schema);
        bus.Services.Replace(ServiceDescriptor.Singleton<IWorkflowStore>(_ => new PostgreSqlWorkflowStore(connectionString, schema)));
        return bus;
    }

    /// <summary>Stores finished steps of jobs (<see cref="IStepStore"/>) in <paramref name="schema"/> of the PostgreSQL
    /// database the connection string names, shared by every host whatever its transport, replacing any step store
    /// registered before. The clock is the container's <see cref="TimeProvider"/>, else the system clock. The table is
    /// created or migrated at start-up.</summary>
    /// <exception cref="ArgumentException">The connection string or schema name is not valid (checked now).</exception>
    public static BusConfiguration UsePostgreSqlStepStore(this BusConfiguration bus, string connectionString, string schema = SchemaName.Default)
    {
        Check(bus, connectionString, schema);
        bus.Services.Replace(ServiceDescriptor.Singleton<IStepStore>(sp => new PostgreSqlStepStore(connectionString, schema, sp.GetService<TimeProvider>())));
        return bus;
    }

    /// <summary>Stores job statuses (<see cref="IJobStatusStore"/>: progress, final state, result) in
    /// <paramref name="schema"/> of the PostgreSQL database the connection string names, so that any host answers
    /// <see cref="IJobStatusQuery"/> for any job, replacing any job status store registered before. The table is created
    /// or migrated at start-up.</summary>
    /// <exception cref="ArgumentException">The connection string or schema name is not valid (checked now).</exception>
    public static BusConfiguration UsePostgreSqlJobStatusStore(this BusConfiguration bus, string connectionString, string schema = SchemaName.Default)
    {
        Check(bus, connectionString, schema);
        bus.Services.Replace(ServiceDescriptor.Singleton<IJobStatusStore>(_ => new PostgreSqlJobStatusStore(connectionString, schema)));
        return bus;
    }

    /// <summary>Claims the ticks of recurring schedules (<see cref="IScheduleStore"/>) in <paramref name="schema"/> of the
    /// PostgreSQL database the connection string names (e.g. the transport's), shared by every host whatever its
    /// transport, so that one host fires each tick and pausing holds for all of them; replaces any schedule store
    /// registered before. The table is created or migrated at start-up.</summary>
    /// <exception cref="ArgumentException">The connection string or schema name is not valid (checked now).</exception>
    public static BusConfiguration UsePostgreSqlScheduleStore(this BusConfiguration bus, string connectionString, string schema = SchemaName.Default)
    {
        Check(bus, connectionString, schema);
        bus.Services.Replace(ServiceDescriptor.Singleton<IScheduleStore>(_ => new PostgreSqlScheduleStore(connectionString, schema)));
        return bus;
    }

    private static void Check(BusConfiguration bus, string connectionString, string schema)
    {
        ArgumentNullException.ThrowIfNull(bus);
        PostgreSqlDatabase.Parse(connectionString);
        SchemaName.Validate(schema, nameof(schema));
        bus.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, PostgreSqlSchemaService>());
    }
}

using Bus.Sqlite;
using Bus.Sqlite.Schema;
using Bus.Steps;
using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Bus.Hosting;

/// <summary>Registers the SQLite transport and stores on a <see cref="BusConfiguration"/>.</summary>
public static class SqliteBusConfigurationExtensions
{
    /// <summary>Uses the durable SQLite transport on the database file at <paramref name="databasePath"/>.</summary>
    /// <exception cref="ArgumentException">The path is empty.</exception>
    public static BusConfiguration UseSqlite(this BusConfiguration bus, string databasePath)
    {
        if (string.IsNullOrWhiteSpace(databasePath))
        {
            throw new ArgumentException("The SQLite database path must not be empty.", nameof(databasePath));
        }

        return bus.UseSqlite(options => options.DatabasePath = databasePath);
    }

    /// <summary>Uses the durable SQLite transport with the given settings (checked now). The clock is the options'
    /// <see cref="SqliteTransportOptions.TimeProvider"/>, else the container's <see cref="TimeProvider"/>, else the system clock.</summary>
    /// <exception cref="ArgumentException">The settings name no database or are out of range.</exception>
    public static BusConfiguration UseSqlite(this BusConfiguration bus, Action<SqliteTransportOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new SqliteTransportOptions();
        configure(options);
        options.Validate();
        return bus.UseTransport(sp =>
        {
            var resolved = options.Clone();
            resolved.TimeProvider ??= sp.GetService<TimeProvider>();
            return new SqliteTransport(resolved);
        });
    }

    /// <summary>Stores finished steps of jobs (<see cref="IStepStore"/>) in the SQLite database file at
    /// <paramref name="databasePath"/>, e.g. the transport's,
    /// replacing any step store registered before.</summary>
    /// <exception cref="ArgumentException">The path is empty.</exception>
    public static BusConfiguration UseSqliteStepStore(this BusConfiguration bus, string databasePath)
    {
        ArgumentNullException.ThrowIfNull(bus);
        var connectionString = SqliteDatabase.ForPath(databasePath);
        bus.Services.Replace(ServiceDescriptor.Singleton<IStepStore>(sp => new SqliteStepStore(connectionString, sp.GetService<TimeProvider>())));
        return bus;
    }

    /// <summary>Stores workflow instances (<see cref="IWorkflowStore"/>) in the SQLite database file at
    /// <paramref name="databasePath"/>, e.g. the transport's.</summary>
    /// <exception cref="ArgumentException">The path is empty.</exception>
    public static BusConfiguration UseSqliteWorkflowStore(this BusConfiguration bus, string databasePath)
    {
        ArgumentNullException.ThrowIfNull(bus);
        var connectionString = SqliteDatabase.ForPath(databasePath);
        bus.Services.Replace(ServiceDescriptor.Singleton<IWorkflowStore>(_ => new SqliteWorkflowStore(connectionString)));
        return bus;
    }

    /// <summary>Stores job statuses (<see cref="Jobs.IJobStatusStore"/>: progress, final state, result) in the SQLite
    /// database file at <paramref name="databasePath"/>, e.g. the transport's, so that every process using the file
    /// answers <see cref="Jobs.IJobStatusQuery"/> for every job.</summary>
    /// <exception cref="ArgumentException">The path is empty.</exception>
    public static BusConfiguration UseSqliteJobStatusStore(this BusConfiguration bus, string databasePath)
    {
        ArgumentNullException.ThrowIfNull(bus);
        var connectionString = SqliteDatabase.ForPath(databasePath);
        bus.Services.Replace(ServiceDescriptor.Singleton<Jobs.IJobStatusStore>(_ => new SqliteJobStatusStore(connectionString)));
        return bus;
    }

    /// <summary>Claims the ticks of recurring schedules (<see cref="Schedules.IScheduleStore"/>) in the SQLite database
    /// file at <paramref name="databasePath"/>, e.g. the transport's, so that every process using the file fires each
    /// tick once, and pausing holds for all of them.</summary>
    /// <exception cref="ArgumentException">The path is empty.</exception>
    public static BusConfiguration UseSqliteScheduleStore(this BusConfiguration bus, string databasePath)
    {
        ArgumentNullException.ThrowIfNull(bus);
        var connectionString = SqliteDatabase.ForPath(databasePath);
        bus.Services.Replace(ServiceDescriptor.Singleton<Schedules.IScheduleStore>(_ => new SqliteScheduleStore(connectionString)));
        return bus;
    }
}

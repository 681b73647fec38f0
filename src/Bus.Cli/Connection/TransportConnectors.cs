using Bus.Transports;
using Microsoft.Extensions.Configuration;

namespace Bus.Cli.Connection;

/// <summary>The transports the tool can open, by <c>Bus:Transport</c> name.</summary>
internal static class TransportConnectors
{
    /// <summary>Every connector.</summary>
    public static IReadOnlyList<ITransportConnector> All { get; } = [new SqliteConnector(), new PostgreSqlConnector(), new SqsConnector(), new ServiceBusConnector()];

    public static string Names => string.Join(", ", All.Select(c => c.Name));

    /// <summary>The connector the settings name.</summary>
    /// <exception cref="CliException">No transport is named, or an unknown one.</exception>
    public static ITransportConnector For(IConfigurationSection bus)
    {
        var name = bus["Transport"];
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new CliException(ExitCodes.Configuration,
                $"No transport is configured. Pass --transport ({Names}), set BUS__TRANSPORT, or put \"Transport\" in the \"Bus\" section of {ConnectionSettings.DefaultFile} (or the file --settings names).");
        }

        return All.FirstOrDefault(c => string.Equals(c.Name, name.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new CliException(ExitCodes.Configuration, $"Unknown transport '{name}'. Known transports: {Names}.");
    }

    /// <summary>Opens the transport the settings name.</summary>
    public static ITransport Connect(IConfigurationSection bus) => For(bus).Connect(bus);

    /// <summary>Binds a transport's options section, turning binder errors into configuration errors.</summary>
    public static T Bind<T>(IConfigurationSection bus, string section, T options)
    {
        try
        {
            bus.GetSection(section).Bind(options);
            return options;
        }
        catch (InvalidOperationException e)
        {
            throw new CliException(ExitCodes.Configuration, $"The \"Bus:{section}\" settings are invalid: {e.Message}");
        }
    }

    /// <summary>Creates a transport, turning option validation errors into configuration errors.</summary>
    public static ITransport Create(string name, Func<ITransport> create)
    {
        try
        {
            return create();
        }
        catch (ArgumentException e)
        {
            throw new CliException(ExitCodes.Configuration, $"The {name} settings are invalid: {e.Message}");
        }
    }
}

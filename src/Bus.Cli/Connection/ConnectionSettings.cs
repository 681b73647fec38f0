using Microsoft.Extensions.Configuration;

namespace Bus.Cli.Connection;

/// <summary>
/// Where the tool finds its connection settings, later ones winning: a JSON settings file (<c>--settings FILE</c>, else
/// <c>bus.json</c> in the current folder when there is one), then environment variables (<c>BUS__TRANSPORT</c>,
/// <c>BUS__SQS__SERVICEURL</c>, ...), then the command-line flags. Everything lives under the <c>Bus</c> section, with
/// the transport's options under its own section (<c>Bus:Sqlite</c>, <c>Bus:Sqs</c>, <c>Bus:ServiceBus</c>) named as
/// the transport's options class names them, so a settings file an endpoint binds can serve the tool too.
/// </summary>
internal static class ConnectionSettings
{
    /// <summary>The settings file read when none is named.</summary>
    public const string DefaultFile = "bus.json";

    public static IConfigurationSection Load(string? settingsFile, IEnumerable<KeyValuePair<string, string?>> flags)
    {
        var builder = new ConfigurationBuilder();
        if (settingsFile is not null)
        {
            var path = Path.GetFullPath(settingsFile);
            if (!File.Exists(path))
            {
                throw new CliException(ExitCodes.Configuration, $"The settings file '{path}' does not exist. Pass an existing file with --settings, or none.");
            }

            builder.AddJsonFile(path, optional: false);
        }
        else if (File.Exists(Path.GetFullPath(DefaultFile)))
        {
            builder.AddJsonFile(Path.GetFullPath(DefaultFile), optional: false);
        }

        builder.AddEnvironmentVariables();
        builder.AddInMemoryCollection(flags.Where(f => f.Value is not null));
        try
        {
            return builder.Build().GetSection("Bus");
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or System.Text.Json.JsonException)
        {
            throw new CliException(ExitCodes.Configuration, $"The settings file could not be read: {e.Message}");
        }
    }
}

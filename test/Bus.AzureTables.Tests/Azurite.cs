using Azure.Data.Tables;

namespace Bus.AzureTables.Tests;

/// <summary>Settings for tests against the local azurite peer (env BUS_AZURE_TABLES_CONNECTION_STRING, default the
/// development account on http://127.0.0.1:BUS_AZURITE_TABLE_PORT (10002); started by build/start-azurite.sh).</summary>
internal static class Azurite
{
    /// <summary>Azurite's well-known development account key (public, documented by Microsoft).</summary>
    private const string DevelopmentConnectionString =
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
        "TableEndpoint=http://127.0.0.1:{0}/devstoreaccount1;";

    public static string ConnectionString { get; } =
        Environment.GetEnvironmentVariable("BUS_AZURE_TABLES_CONNECTION_STRING") is { Length: > 0 } c
            ? c
            : string.Format(System.Globalization.CultureInfo.InvariantCulture, DevelopmentConnectionString,
                Environment.GetEnvironmentVariable("BUS_AZURITE_TABLE_PORT") is { Length: > 0 } port ? port : "10002");

    public static TableServiceClient Client() => new(ConnectionString);

    /// <summary>Options on azurite with a table prefix unique to the caller.</summary>
    public static AzureTablesStoreOptions Options(string prefix, Action<AzureTablesStoreOptions>? configure = null)
    {
        var options = new AzureTablesStoreOptions { ConnectionString = ConnectionString, TableNamePrefix = prefix };
        configure?.Invoke(options);
        return options;
    }

    /// <summary>A table prefix no other test uses (letters and digits).</summary>
    public static string UniquePrefix(string hint) => $"{hint}{Guid.NewGuid():N}"[..(hint.Length + 12)];
}

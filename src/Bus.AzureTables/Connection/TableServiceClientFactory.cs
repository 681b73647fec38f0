using Azure.Data.Tables;
using Azure.Identity;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.AzureTables.Connection;

/// <summary>The table service client of the stores: the options' <see cref="AzureTablesStoreOptions.Client"/>, else one
/// registered in dependency injection, else one built from the connection string or the endpoint and credential.</summary>
internal static class TableServiceClientFactory
{
    public static TableServiceClient Create(AzureTablesStoreOptions options, IServiceProvider? services)
    {
        if ((options.Client ?? services?.GetService<TableServiceClient>()) is { } given)
        {
            return given;
        }

        if (options.ConnectionString is { } connectionString)
        {
            return new TableServiceClient(connectionString);
        }

        if (options.Endpoint is { } endpoint)
        {
            return new TableServiceClient(endpoint, options.Credential ?? new DefaultAzureCredential());
        }

        throw AzureTablesStoreOptions.MissingAccount();
    }
}

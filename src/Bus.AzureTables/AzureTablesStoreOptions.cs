using Azure.Core;
using Azure.Data.Tables;

namespace Bus.AzureTables;

/// <summary>What a store does with its table at first use and at start-up.</summary>
public enum AzureTablesProvisioning
{
    /// <summary>Create a missing table; leave an existing one as it is.</summary>
    CreateIfMissing,

    /// <summary>Only check that the tables exist; a start-up error lists every missing one, for infrastructure-as-code
    /// deployments where the application may not create tables.</summary>
    VerifyOnly,
}

/// <summary>Settings of the Azure Table storage workflow, step and job status stores: which account, how to sign in, which tables.</summary>
public sealed class AzureTablesStoreOptions
{
    /// <summary>A storage connection string (account key or SAS), e.g. for Azurite
    /// <c>UseDevelopmentStorage=true</c>. Set this or <see cref="Endpoint"/>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>The table service endpoint, e.g. https://myaccount.table.core.windows.net/, signed in with
    /// <see cref="Credential"/> (Microsoft Entra ID). Set this or <see cref="ConnectionString"/>.</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>The Entra ID credential for <see cref="Endpoint"/> (the identity needs the "Storage Table Data
    /// Contributor" role). Null: <c>DefaultAzureCredential</c> (environment, workload identity, managed identity,
    /// Azure CLI, ...).</summary>
    public TokenCredential? Credential { get; set; }

    /// <summary>The table service client to use. Null: a <see cref="TableServiceClient"/> registered in dependency
    /// injection when there is one, else a client built from these options. A given client is used as it is.</summary>
    public TableServiceClient? Client { get; set; }

    /// <summary>Prefix of the table names (<c>{prefix}Workflows</c>, <c>{prefix}Steps</c>, <c>{prefix}Jobs</c>,
    /// <c>{prefix}Schedules</c>): letters and digits,
    /// starting with a letter. Default "Bus".</summary>
    public string TableNamePrefix { get; set; } = "Bus";

    /// <summary>Create missing tables, or only verify them. Default <see cref="AzureTablesProvisioning.CreateIfMissing"/>.</summary>
    public AzureTablesProvisioning Provisioning { get; set; } = AzureTablesProvisioning.CreateIfMissing;

    /// <summary>The name of the workflows table.</summary>
    public string WorkflowTableName => TableNamePrefix + "Workflows";

    /// <summary>The name of the steps table.</summary>
    public string StepTableName => TableNamePrefix + "Steps";

    /// <summary>The name of the job status table.</summary>
    public string JobTableName => TableNamePrefix + "Jobs";

    /// <summary>The name of the schedules table.</summary>
    public string ScheduleTableName => TableNamePrefix + "Schedules";

    /// <summary>A copy of these options.</summary>
    public AzureTablesStoreOptions Clone() => (AzureTablesStoreOptions)MemberwiseClone();

    /// <summary>Checks every setting and throws an error that says what to change.</summary>
    /// <param name="requireAccount">False where the client may still come from dependency injection.</param>
    /// <exception cref="ArgumentException">A setting is invalid.</exception>
    public void Validate(bool requireAccount = true)
    {
        if (ConnectionString is not null && Endpoint is not null)
        {
            throw new ArgumentException("AzureTablesStoreOptions: set ConnectionString or Endpoint (with Credential), not both.", nameof(ConnectionString));
        }

        if (ConnectionString is { } connectionString && string.IsNullOrWhiteSpace(connectionString))
        {
            throw new ArgumentException("AzureTablesStoreOptions.ConnectionString is empty; set a storage connection string (e.g. UseDevelopmentStorage=true for Azurite) or null.", nameof(ConnectionString));
        }

        if (Endpoint is { } endpoint && (!endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttps && endpoint.Scheme != Uri.UriSchemeHttp)))
        {
            throw new ArgumentException($"AzureTablesStoreOptions.Endpoint '{endpoint}' must be an absolute https URL such as https://myaccount.table.core.windows.net/.", nameof(Endpoint));
        }

        if (Credential is not null && Endpoint is null)
        {
            throw new ArgumentException("AzureTablesStoreOptions.Credential needs Endpoint (a connection string carries its own credentials).", nameof(Credential));
        }

        if (requireAccount && Client is null && ConnectionString is null && Endpoint is null)
        {
            throw MissingAccount();
        }

        var prefix = TableNamePrefix;
        if (prefix is null || prefix.Length > 50 || (prefix.Length > 0 && !char.IsAsciiLetter(prefix[0])) || !prefix.All(char.IsAsciiLetterOrDigit))
        {
            throw new ArgumentException($"AzureTablesStoreOptions.TableNamePrefix '{prefix}' must be at most 50 letters and digits starting with a letter (Azure table names); use \"\" for none.", nameof(TableNamePrefix));
        }

        if (!Enum.IsDefined(Provisioning))
        {
            throw new ArgumentOutOfRangeException(nameof(Provisioning), Provisioning, "AzureTablesStoreOptions.Provisioning must be CreateIfMissing or VerifyOnly.");
        }
    }

    internal static ArgumentException MissingAccount() => new(
        "AzureTablesStoreOptions needs a storage account: set ConnectionString, or Endpoint (with Credential, else DefaultAzureCredential), " +
        "or Client, or register a TableServiceClient in dependency injection.", nameof(ConnectionString));
}

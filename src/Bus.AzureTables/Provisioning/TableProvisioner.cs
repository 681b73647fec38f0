using Azure.Data.Tables;

namespace Bus.AzureTables.Provisioning;

/// <summary>Creates a missing table or reports it missing, once per store; a failed attempt is tried again on the next use.</summary>
internal sealed class TableProvisioner(TableServiceClient service, string tableName, AzureTablesProvisioning mode)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile bool _ready;

    public string TableName => tableName;

    /// <summary>Makes sure the table exists: creates it (CreateIfMissing) or throws (VerifyOnly).</summary>
    public async Task EnsureAsync(CancellationToken cancellationToken)
    {
        if (_ready)
        {
            return;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_ready)
            {
                return;
            }

            var missing = await ProvisionAsync(cancellationToken).ConfigureAwait(false);
            if (missing.Count > 0)
            {
                throw VerifyFailed(missing);
            }

            _ready = true;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Creates the table when missing (CreateIfMissing) and returns nothing, or returns what is missing (VerifyOnly).</summary>
    public async Task<IReadOnlyList<string>> ProvisionAsync(CancellationToken cancellationToken)
    {
        if (mode == AzureTablesProvisioning.CreateIfMissing)
        {
            await service.CreateTableIfNotExistsAsync(tableName, cancellationToken).ConfigureAwait(false);
            return [];
        }

        await foreach (var table in service.QueryAsync(t => t.Name == tableName, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (table.Name == tableName)
            {
                return [];
            }
        }

        return [$"table '{tableName}'"];
    }

    /// <summary>The error for what verification found missing, naming all of it and what to do.</summary>
    public static InvalidOperationException VerifyFailed(IEnumerable<string> missing) => new(
        "Provisioning is VerifyOnly and the Azure storage account lacks what the Bus stores need. Missing: " + string.Join("; ", missing) +
        ". Create them with your infrastructure tooling, or set AzureTablesStoreOptions.Provisioning = AzureTablesProvisioning.CreateIfMissing " +
        "to let the application create them.");
}

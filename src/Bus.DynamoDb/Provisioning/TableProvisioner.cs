using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;

namespace Bus.DynamoDb.Provisioning;

/// <summary>The shape a store needs of its table: a string partition key <c>pk</c>, optionally a string sort key
/// <c>sk</c>, optionally a time-to-live attribute, optionally a global secondary index.</summary>
internal sealed record TableSpec(string Name, bool HasSortKey, string? TimeToLiveAttribute, IndexSpec? Index = null)
{
    public string Describe() =>
        $"table '{Name}' (partition key 'pk' string{(HasSortKey ? ", sort key 'sk' string" : string.Empty)})";
}

/// <summary>A global secondary index with a string partition key and a number sort key, projecting all attributes.</summary>
internal sealed record IndexSpec(string Name, string PartitionKey, string SortKey)
{
    public string Describe(string tableName) =>
        $"global secondary index '{Name}' of table '{tableName}' (partition key '{PartitionKey}' string, sort key '{SortKey}' number, projection ALL)";
}

/// <summary>Creates a missing table or reports what is missing, once per store; a failed attempt is tried again on the
/// next use.</summary>
internal sealed class TableProvisioner(IAmazonDynamoDB client, TableSpec spec, DynamoDbProvisioning mode)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile bool _ready;

    /// <summary>Makes sure the table is usable: creates it (CreateIfMissing) or throws the list of what is missing
    /// (VerifyOnly).</summary>
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

    /// <summary>Creates what is missing (CreateIfMissing) and returns nothing, or returns what is missing (VerifyOnly).</summary>
    public async Task<IReadOnlyList<string>> ProvisionAsync(CancellationToken cancellationToken)
    {
        var missing = new List<string>();
        var table = await DescribeAsync(cancellationToken).ConfigureAwait(false);
        if (table is null)
        {
            if (mode == DynamoDbProvisioning.VerifyOnly)
            {
                missing.Add(spec.Describe());
                if (spec.Index is { } index)
                {
                    missing.Add(index.Describe(spec.Name));
                }

                if (spec.TimeToLiveAttribute is { } attribute)
                {
                    missing.Add($"time to live on attribute '{attribute}' of table '{spec.Name}'");
                }

                return missing;
            }

            await CreateAsync(cancellationToken).ConfigureAwait(false);
            table = await WaitUntilActiveAsync(cancellationToken).ConfigureAwait(false);
        }

        var keys = table.KeySchema.ToDictionary(k => k.KeyType.Value, k => k.AttributeName, StringComparer.Ordinal);
        var types = table.AttributeDefinitions.ToDictionary(a => a.AttributeName, a => a.AttributeType.Value, StringComparer.Ordinal);
        var hashOk = keys.GetValueOrDefault(KeyType.HASH.Value) == "pk" && types.GetValueOrDefault("pk") == ScalarAttributeType.S.Value;
        var rangeOk = spec.HasSortKey
            ? keys.GetValueOrDefault(KeyType.RANGE.Value) == "sk" && types.GetValueOrDefault("sk") == ScalarAttributeType.S.Value
            : !keys.ContainsKey(KeyType.RANGE.Value);
        if (!hashOk || !rangeOk)
        {
            // Never changed by provisioning: a table with other keys may hold someone else's data.
            missing.Add($"{spec.Describe()}: the existing table has other keys ({string.Join(", ", keys.Select(k => $"{k.Key} '{k.Value}'"))}); " +
                        "use another TableNamePrefix or recreate the table");
        }

        if (spec.Index is { } wanted && !HasIndex(table, wanted))
        {
            // Never added by provisioning either: adding an index to a live table backfills it, a change for the owner to make.
            missing.Add($"{wanted.Describe(spec.Name)}: add it to the table (or delete the table so it is created with it), or use another TableNamePrefix");
        }

        if (spec.TimeToLiveAttribute is { } ttl && !await TimeToLiveEnabledAsync(ttl, cancellationToken).ConfigureAwait(false))
        {
            if (mode == DynamoDbProvisioning.VerifyOnly)
            {
                missing.Add($"time to live on attribute '{ttl}' of table '{spec.Name}'");
            }
            else
            {
                await client.UpdateTimeToLiveAsync(
                    new UpdateTimeToLiveRequest
                    {
                        TableName = spec.Name,
                        TimeToLiveSpecification = new TimeToLiveSpecification { AttributeName = ttl, Enabled = true },
                    },
                    cancellationToken).ConfigureAwait(false);
            }
        }

        return missing;
    }

    /// <summary>The error for what verification found missing, naming all of it and what to do.</summary>
    public static InvalidOperationException VerifyFailed(IEnumerable<string> missing) => new(
        "Provisioning is VerifyOnly and DynamoDB lacks what the Bus stores need. Missing: " + string.Join("; ", missing) +
        ". Create them with your infrastructure tooling (see the README's DynamoDB section), or set " +
        "DynamoDbStoreOptions.Provisioning = DynamoDbProvisioning.CreateIfMissing to let the application create them.");

    private async Task<TableDescription?> DescribeAsync(CancellationToken cancellationToken)
    {
        try
        {
            var response = await client.DescribeTableAsync(new DescribeTableRequest { TableName = spec.Name }, cancellationToken).ConfigureAwait(false);
            return response.Table;
        }
        catch (ResourceNotFoundException)
        {
            return null;
        }
    }

    private async Task CreateAsync(CancellationToken cancellationToken)
    {
        var request = new CreateTableRequest
        {
            TableName = spec.Name,
            BillingMode = BillingMode.PAY_PER_REQUEST,
            KeySchema = [new KeySchemaElement("pk", KeyType.HASH)],
            AttributeDefinitions = [new AttributeDefinition("pk", ScalarAttributeType.S)],
        };
        if (spec.HasSortKey)
        {
            request.KeySchema.Add(new KeySchemaElement("sk", KeyType.RANGE));
            request.AttributeDefinitions.Add(new AttributeDefinition("sk", ScalarAttributeType.S));
        }

        if (spec.Index is { } index)
        {
            request.AttributeDefinitions.Add(new AttributeDefinition(index.PartitionKey, ScalarAttributeType.S));
            request.AttributeDefinitions.Add(new AttributeDefinition(index.SortKey, ScalarAttributeType.N));
            request.GlobalSecondaryIndexes =
            [
                new GlobalSecondaryIndex
                {
                    IndexName = index.Name,
                    KeySchema = [new KeySchemaElement(index.PartitionKey, KeyType.HASH), new KeySchemaElement(index.SortKey, KeyType.RANGE)],
                    Projection = new Projection { ProjectionType = ProjectionType.ALL },
                },
            ];
        }

        try
        {
            await client.CreateTableAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (ResourceInUseException)
        {
            // Another host or store created it at the same time: wait for it below.
        }
    }

    private async Task<TableDescription> WaitUntilActiveAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 600; attempt++)
        {
            var table = await DescribeAsync(cancellationToken).ConfigureAwait(false);
            if (table?.TableStatus == TableStatus.ACTIVE)
            {
                return table;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
        }

        throw new TimeoutException($"DynamoDB table '{spec.Name}' did not become ACTIVE within a minute; check it in the AWS console and start again.");
    }

    private static bool HasIndex(TableDescription table, IndexSpec wanted)
    {
        var index = table.GlobalSecondaryIndexes?.FirstOrDefault(i => i.IndexName == wanted.Name);
        if (index is null)
        {
            return false;
        }

        var keys = index.KeySchema.ToDictionary(k => k.KeyType.Value, k => k.AttributeName, StringComparer.Ordinal);
        var types = table.AttributeDefinitions.ToDictionary(a => a.AttributeName, a => a.AttributeType.Value, StringComparer.Ordinal);
        return keys.GetValueOrDefault(KeyType.HASH.Value) == wanted.PartitionKey
               && keys.GetValueOrDefault(KeyType.RANGE.Value) == wanted.SortKey
               && types.GetValueOrDefault(wanted.PartitionKey) == ScalarAttributeType.S.Value
               && types.GetValueOrDefault(wanted.SortKey) == ScalarAttributeType.N.Value
               && index.Projection?.ProjectionType == ProjectionType.ALL;
    }

    private async Task<bool> TimeToLiveEnabledAsync(string attribute, CancellationToken cancellationToken)
    {
        var response = await client.DescribeTimeToLiveAsync(new DescribeTimeToLiveRequest { TableName = spec.Name }, cancellationToken).ConfigureAwait(false);
        var description = response.TimeToLiveDescription;
        return description?.AttributeName == attribute
               && (description.TimeToLiveStatus == TimeToLiveStatus.ENABLED || description.TimeToLiveStatus == TimeToLiveStatus.ENABLING);
    }
}

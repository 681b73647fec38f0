using System.Globalization;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Bus.DynamoDb.Provisioning;
using Bus.Schedules;

namespace Bus.DynamoDb;

/// <summary>
/// A schedule store on a DynamoDB table (<c>{prefix}schedules</c>) shared by every host of an endpoint: one item per
/// schedule (key <c>pk</c> = its name) with <c>lastTick</c>, <c>lastFiredAt</c>, <c>resumedAt</c> (UTC ticks) and
/// <c>paused</c> (0 or 1), and the registered definition: <c>messageType</c>, <c>cron</c>, <c>timeZone</c>, <c>missed</c>
/// (strings) and <c>registeredAt</c> (UTC ticks). A claim is one conditional <c>UpdateItem</c> (not paused, and no later or equal last tick),
/// so exactly one host fires each tick; reads are strongly consistent.
/// </summary>
public sealed class DynamoDbScheduleStore : IScheduleStore, IDisposable
{
    private readonly IAmazonDynamoDB _client;
    private readonly bool _ownsClient;

    /// <summary>Creates a store on <paramref name="client"/> (not disposed by the store). The table is created or
    /// verified on first use, as <see cref="DynamoDbStoreOptions.Provisioning"/> says.</summary>
    /// <param name="client">The DynamoDB client.</param>
    /// <param name="options">The table prefix and provisioning; defaults when null.</param>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public DynamoDbScheduleStore(IAmazonDynamoDB client, DynamoDbStoreOptions? options = null)
        : this(client, options ?? new DynamoDbStoreOptions(), ownsClient: false)
    {
    }

    internal DynamoDbScheduleStore(IAmazonDynamoDB client, DynamoDbStoreOptions options, bool ownsClient)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _client = client;
        _ownsClient = ownsClient;
        TableName = options.ScheduleTableName;
        Provisioner = new TableProvisioner(client, new TableSpec(TableName, HasSortKey: false, TimeToLiveAttribute: null), options.Provisioning);
    }

    /// <summary>The table's name.</summary>
    public string TableName { get; }

    internal TableProvisioner Provisioner { get; }

    /// <summary>Creates the table when missing (CreateIfMissing) or checks it (VerifyOnly). Called on first use anyway.</summary>
    /// <exception cref="InvalidOperationException">VerifyOnly and the table is missing or has other keys.</exception>
    public Task EnsureTableAsync(CancellationToken cancellationToken) => Provisioner.EnsureAsync(cancellationToken);

    /// <inheritdoc />
    public async Task<ScheduleState?> GetAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        var response = await _client.GetItemAsync(
            new GetItemRequest { TableName = TableName, Key = Key(name), ConsistentRead = true }, cancellationToken).ConfigureAwait(false);
        if (!response.IsItemSet || response.Item is not { Count: > 0 } item)
        {
            return null;
        }

        return State(item);
    }

    /// <inheritdoc />
    public async Task RegisterAsync(string name, ScheduleDefinition definition, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(definition);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        await _client.UpdateItemAsync(
            new UpdateItemRequest
            {
                TableName = TableName,
                Key = Key(name),
                // Names through placeholders: TIMEZONE is a reserved word.
                UpdateExpression = "SET #type = :type, #cron = :cron, #zone = :zone, #missed = :missed, #at = :at",
                ExpressionAttributeNames = new(StringComparer.Ordinal)
                {
                    ["#type"] = "messageType", ["#cron"] = "cron", ["#zone"] = "timeZone", ["#missed"] = "missed", ["#at"] = "registeredAt",
                },
                ExpressionAttributeValues = new(StringComparer.Ordinal)
                {
                    [":type"] = new AttributeValue { S = definition.MessageType },
                    [":cron"] = new AttributeValue { S = definition.Cron },
                    [":zone"] = new AttributeValue { S = definition.TimeZone },
                    [":missed"] = new AttributeValue { S = definition.Missed.ToString() },
                    [":at"] = Number(definition.RegisteredAt.UtcTicks),
                },
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>A strongly consistent scan of the table, page by page (a table holds one small item per schedule).</remarks>
    public async Task<IReadOnlyList<ScheduleState>> ListAsync(CancellationToken cancellationToken)
    {
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<ScheduleState>();
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var page = await _client.ScanAsync(
                new ScanRequest { TableName = TableName, ConsistentRead = true, ExclusiveStartKey = start }, cancellationToken).ConfigureAwait(false);
            list.AddRange((page.Items ?? []).Select(State));
            start = page.LastEvaluatedKey is { Count: > 0 } last ? last : null;
        }
        while (start is not null);

        return list.OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
    }

    /// <inheritdoc />
    public async Task<bool> TryClaimAsync(string name, DateTimeOffset tick, DateTimeOffset claimedAt, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _client.UpdateItemAsync(
                new UpdateItemRequest
                {
                    TableName = TableName,
                    Key = Key(name),
                    UpdateExpression = "SET lastTick = :tick, lastFiredAt = :at",
                    ConditionExpression = "(attribute_not_exists(paused) OR paused = :no) AND (attribute_not_exists(lastTick) OR lastTick < :tick)",
                    ExpressionAttributeValues = new(StringComparer.Ordinal)
                    {
                        [":tick"] = Number(tick.UtcTicks),
                        [":at"] = Number(claimedAt.UtcTicks),
                        [":no"] = Number(0),
                    },
                },
                cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ConditionalCheckFailedException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    /// <remarks>One <c>DeleteItem</c> that returns the old item: whether there was one.</remarks>
    public async Task<bool> RemoveAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        var response = await _client.DeleteItemAsync(
            new DeleteItemRequest { TableName = TableName, Key = Key(name), ReturnValues = ReturnValue.ALL_OLD }, cancellationToken).ConfigureAwait(false);
        return response.Attributes is { Count: > 0 };
    }

    /// <inheritdoc />
    public async Task SetPausedAsync(string name, bool paused, DateTimeOffset at, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        var request = paused
            ? new UpdateItemRequest
            {
                TableName = TableName,
                Key = Key(name),
                UpdateExpression = "SET paused = :yes",
                ExpressionAttributeValues = new(StringComparer.Ordinal) { [":yes"] = Number(1) },
            }
            : new UpdateItemRequest
            {
                TableName = TableName,
                Key = Key(name),
                UpdateExpression = "SET paused = :no, resumedAt = :at",
                ConditionExpression = "paused = :yes",
                ExpressionAttributeValues = new(StringComparer.Ordinal) { [":yes"] = Number(1), [":no"] = Number(0), [":at"] = Number(at.UtcTicks) },
            };
        try
        {
            await _client.UpdateItemAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (ConditionalCheckFailedException)
        {
            // Resuming a schedule that is not paused changes nothing.
        }
    }

    /// <summary>Disposes the DynamoDB client when the store built it.</summary>
    public void Dispose()
    {
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }

    private static ScheduleState State(Dictionary<string, AttributeValue> item)
    {
        var definition = item.TryGetValue("cron", out var cron) && cron.S is { } expression
            ? new ScheduleDefinition(
                Text(item, "messageType"), expression, Text(item, "timeZone"),
                Enum.TryParse<MissedTicks>(Text(item, "missed"), out var missed) ? missed : MissedTicks.FireOnce,
                Time(item, "registeredAt") ?? DateTimeOffset.MinValue)
            : null;
        return new ScheduleState(
            item["pk"].S, Time(item, "lastTick"), Time(item, "lastFiredAt"), item.TryGetValue("paused", out var p) && p.N == "1", Time(item, "resumedAt"),
            definition);
    }

    private static string Text(Dictionary<string, AttributeValue> item, string attribute) =>
        item.TryGetValue(attribute, out var value) && value.S is { } text ? text : "";

    private static Dictionary<string, AttributeValue> Key(string name) => new(StringComparer.Ordinal) { ["pk"] = new AttributeValue { S = name } };

    private static AttributeValue Number(long value) => new() { N = value.ToString(CultureInfo.InvariantCulture) };

    private static DateTimeOffset? Time(Dictionary<string, AttributeValue> item, string attribute) =>
        item.TryGetValue(attribute, out var value) && value.N is { } n ? new DateTimeOffset(long.Parse(n, CultureInfo.InvariantCulture), TimeSpan.Zero) : null;
}

using Azure;
using Azure.Data.Tables;
using Bus.AzureTables.Entities;
using Bus.AzureTables.Provisioning;
using Bus.Schedules;

namespace Bus.AzureTables;

/// <summary>
/// A schedule store on an Azure Table storage table (<c>{prefix}Schedules</c>) shared by every host of an endpoint: a
/// partition per schedule (its name, escaped) with one entity holding <c>LastTick</c>, <c>LastFiredAt</c>,
/// <c>ResumedAt</c> (UTC ticks) and <c>Paused</c>, and the registered definition (<c>MessageType</c>, <c>Cron</c>,
/// <c>TimeZone</c>, <c>Missed</c>, <c>RegisteredAt</c>). A claim reads the entity and replaces it with its ETag
/// (<c>If-Match</c>), or adds it when there is none; a lost race reads again, so exactly one host fires each tick.
/// </summary>
public sealed class AzureTablesScheduleStore : IScheduleStore
{
    private const string RowKey = "schedule";
    private readonly TableClient _table;

    /// <summary>Creates a store on <paramref name="service"/>. The table is created or verified on first use, as
    /// <see cref="AzureTablesStoreOptions.Provisioning"/> says.</summary>
    /// <param name="service">The table service client.</param>
    /// <param name="options">The table prefix and provisioning; defaults when null.</param>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public AzureTablesScheduleStore(TableServiceClient service, AzureTablesStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(service);
        options ??= new AzureTablesStoreOptions();
        options.Validate(requireAccount: false);
        TableName = options.ScheduleTableName;
        _table = service.GetTableClient(TableName);
        Provisioner = new TableProvisioner(service, TableName, options.Provisioning);
    }

    /// <summary>The table's name.</summary>
    public string TableName { get; }

    internal TableProvisioner Provisioner { get; }

    /// <summary>Creates the table when missing (CreateIfMissing) or checks it (VerifyOnly). Called on first use anyway.</summary>
    /// <exception cref="InvalidOperationException">VerifyOnly and the table is missing.</exception>
    public Task EnsureTableAsync(CancellationToken cancellationToken) => Provisioner.EnsureAsync(cancellationToken);

    /// <inheritdoc />
    public async Task<ScheduleState?> GetAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        return await ReadAsync(name, cancellationToken).ConfigureAwait(false) is { } entity ? State(name, entity) : null;
    }

    /// <inheritdoc />
    public Task<bool> TryClaimAsync(string name, DateTimeOffset tick, DateTimeOffset claimedAt, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return ChangeAsync(name, state => state.Paused || state.LastTick >= tick
            ? null
            : state with { LastTick = tick.ToUniversalTime(), LastFiredAt = claimedAt.ToUniversalTime() }, cancellationToken);
    }

    /// <inheritdoc />
    public Task RegisterAsync(string name, ScheduleDefinition definition, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(definition);
        return ChangeAsync(name, state => state with { Definition = definition with { RegisteredAt = definition.RegisteredAt.ToUniversalTime() } }, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ScheduleState>> ListAsync(CancellationToken cancellationToken)
    {
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<ScheduleState>();
        await foreach (var entity in _table.QueryAsync<TableEntity>(e => e.RowKey == RowKey, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            list.Add(State(KeyEncoding.Decode(entity.PartitionKey), entity));
        }

        return list.OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
    }

    /// <inheritdoc />
    /// <remarks>One unconditional delete of the entity; the service answers 404 when there is none.</remarks>
    public async Task<bool> RemoveAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var response = await _table.DeleteEntityAsync(KeyEncoding.Encode(name), RowKey, ETag.All, cancellationToken).ConfigureAwait(false);
            return response.Status != 404; // the client returns a 404 as a response rather than throwing
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public Task SetPausedAsync(string name, bool paused, DateTimeOffset at, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return ChangeAsync(name, state => paused
            ? state with { Paused = true }
            : state.Paused ? state with { Paused = false, ResumedAt = at.ToUniversalTime() } : null, cancellationToken);
    }

    /// <summary>Applies <paramref name="change"/> (null: nothing to change) with optimistic concurrency, reading again
    /// after a lost race; true when this call wrote its change.</summary>
    private async Task<bool> ChangeAsync(string name, Func<ScheduleState, ScheduleState?> change, CancellationToken cancellationToken)
    {
        await Provisioner.EnsureAsync(cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var entity = await ReadAsync(name, cancellationToken).ConfigureAwait(false);
            var state = entity is null ? new ScheduleState(name, null, null, false, null) : State(name, entity);
            if (change(state) is not { } changed)
            {
                return false;
            }

            var write = Entity(changed);
            try
            {
                if (entity is null)
                {
                    await _table.AddEntityAsync(write, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await _table.UpdateEntityAsync(write, entity.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                }

                return true;
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412)
            {
                // Another host wrote first: read its write and decide again.
            }
        }
    }

    private async Task<TableEntity?> ReadAsync(string name, CancellationToken cancellationToken)
    {
        var response = await _table.GetEntityIfExistsAsync<TableEntity>(KeyEncoding.Encode(name), RowKey, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        return response.HasValue ? response.Value : null;
    }

    private static ScheduleState State(string name, TableEntity entity)
    {
        var definition = entity.GetString("Cron") is { } cron
            ? new ScheduleDefinition(
                entity.GetString("MessageType") ?? "", cron, entity.GetString("TimeZone") ?? "",
                Enum.TryParse<MissedTicks>(entity.GetString("Missed"), out var missed) ? missed : MissedTicks.FireOnce,
                Time(entity, "RegisteredAt") ?? DateTimeOffset.MinValue)
            : null;
        return new ScheduleState(
            name, Time(entity, "LastTick"), Time(entity, "LastFiredAt"), entity.GetBoolean("Paused") == true, Time(entity, "ResumedAt"), definition);
    }

    private static TableEntity Entity(ScheduleState state)
    {
        var entity = new TableEntity(KeyEncoding.Encode(state.Name), RowKey) { ["Paused"] = state.Paused };
        Put(entity, "LastTick", state.LastTick);
        Put(entity, "LastFiredAt", state.LastFiredAt);
        Put(entity, "ResumedAt", state.ResumedAt);
        if (state.Definition is { } definition)
        {
            entity["MessageType"] = definition.MessageType;
            entity["Cron"] = definition.Cron;
            entity["TimeZone"] = definition.TimeZone;
            entity["Missed"] = definition.Missed.ToString();
            Put(entity, "RegisteredAt", definition.RegisteredAt);
        }

        return entity;
    }

    private static void Put(TableEntity entity, string property, DateTimeOffset? time)
    {
        if (time is { } value)
        {
            entity[property] = value.UtcTicks;
        }
    }

    private static DateTimeOffset? Time(TableEntity entity, string property) =>
        entity.GetInt64(property) is { } ticks ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;
}

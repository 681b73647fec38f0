using System.Globalization;
using Bus.Storage;
using Bus.PostgreSql.Schema;
using Bus.Workflows;
using Npgsql;
using NpgsqlTypes;

namespace Bus.PostgreSql;

/// <summary>
/// A workflow store on PostgreSQL (table <c>{schema}.workflows</c>) with optimistic concurrency: an update only applies
/// when the stored version is the expected one, and (workflow name, correlation value) is unique. Shared by every host
/// using the database, whatever transport they receive from.
/// </summary>
public sealed class PostgreSqlWorkflowStore : IWorkflowStore, IAsyncDisposable
{
    private const string Columns =
        "workflow_name, id, correlation_value, version, status, state_json, history_json, created_at, updated_at, failure_reason";

    private readonly PostgreSqlDatabase _database;

    /// <summary>Creates a store over <paramref name="schema"/> of the database the Npgsql connection string names.
    /// Nothing is opened until first use; the table is created or migrated then.</summary>
    /// <param name="connectionString">E.g. <c>Host=db;Database=app;Username=bus;Password=...</c>.</param>
    /// <param name="schema">The schema of Bus's tables, e.g. the transport's. Default <c>bus</c>.</param>
    /// <exception cref="ArgumentException">The connection string or schema name is not valid.</exception>
    public PostgreSqlWorkflowStore(string connectionString, string schema = "bus") =>
        _database = new PostgreSqlDatabase(connectionString, schema);

    /// <inheritdoc />
    public async Task<WorkflowInstance?> GetAsync(string workflowName, string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(workflowName);
        ArgumentException.ThrowIfNullOrEmpty(id);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var get = _database.Command(connection, null, $"SELECT {Columns} FROM {{schema}}.workflows WHERE workflow_name = @name AND id = @id;");
        get.Parameters.AddWithValue("name", workflowName);
        get.Parameters.AddWithValue("id", id);
        return await ReadOneAsync(get, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<WorkflowInstance?> FindAsync(string workflowName, string correlationValue, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(workflowName);
        ArgumentNullException.ThrowIfNull(correlationValue);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var find = _database.Command(
            connection, null, $"SELECT {Columns} FROM {{schema}}.workflows WHERE workflow_name = @name AND correlation_value = @correlation;");
        find.Parameters.AddWithValue("name", workflowName);
        find.Parameters.AddWithValue("correlation", correlationValue);
        return await ReadOneAsync(find, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task InsertAsync(WorkflowInstance instance, CancellationToken cancellationToken)
    {
        Validate(instance);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var insert = _database.Command(
            connection,
            null,
            $$"""
            INSERT INTO {schema}.workflows ({{Columns}})
            VALUES (@name, @id, @correlation, 1, @status, @state, @history, @created, @updated, @failure);
            """);
        Bind(insert, instance);
        try
        {
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new WorkflowConcurrencyException(e.ConstraintName?.StartsWith("ux_", StringComparison.Ordinal) == true
                ? $"Workflow '{instance.WorkflowName}' already has an instance correlated on '{instance.CorrelationValue}'."
                : $"Workflow '{instance.WorkflowName}' instance '{instance.Id}' already exists.");
        }
    }

    /// <inheritdoc />
    public async Task UpdateAsync(WorkflowInstance instance, long expectedVersion, CancellationToken cancellationToken)
    {
        Validate(instance);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var update = _database.Command(
            connection,
            null,
            """
            UPDATE {schema}.workflows
               SET version = @expected + 1, correlation_value = @correlation, status = @status, state_json = @state,
                   history_json = @history, created_at = @created, updated_at = @updated, failure_reason = @failure
             WHERE workflow_name = @name AND id = @id AND version = @expected;
            """);
        Bind(update, instance);
        update.Parameters.AddWithValue("expected", expectedVersion);
        int changed;
        try
        {
            changed = await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new WorkflowConcurrencyException(
                $"Workflow '{instance.WorkflowName}' already has another instance correlated on '{instance.CorrelationValue}'.");
        }

        if (changed != 1)
        {
            throw new WorkflowConcurrencyException(
                $"Workflow '{instance.WorkflowName}' instance '{instance.Id}' changed since it was read (expected version {expectedVersion}).");
        }
    }

    /// <inheritdoc />
    /// <remarks>Reads the workflow's rows by primary key prefix; newest first sorts them by creation time (the stored
    /// ISO 8601 text read as <c>timestamptz</c>, to the microsecond) and ids in byte order (<c>COLLATE "C"</c>).</remarks>
    public async Task<WorkflowPage> ListAsync(WorkflowListQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        var after = WorkflowListCursor.Parse(query.ContinuationToken, query.Order);
        const string Key = "(extract(epoch FROM created_at::timestamptz) * 1000000)::bigint";
        var (seek, order) = query.Order == WorkflowListOrder.NewestFirst
            ? ($"({Key} < @key OR ({Key} = @key AND id COLLATE \"C\" > @after))", $"{Key} DESC, id COLLATE \"C\"")
            : ("id COLLATE \"C\" > @after", "id COLLATE \"C\"");
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var list = _database.Command(
            connection,
            null,
            $$"""
            SELECT {{Columns}}, {{Key}} FROM {schema}.workflows
             WHERE workflow_name = @name AND (@status::text IS NULL OR status = @status) AND (@after::text IS NULL OR {{seek}})
             ORDER BY {{order}}
             LIMIT @take;
            """);
        list.Parameters.AddWithValue("name", query.WorkflowName);
        list.Parameters.AddWithValue("status", NpgsqlDbType.Text, (object?)query.Status?.ToString() ?? DBNull.Value);
        list.Parameters.AddWithValue("after", NpgsqlDbType.Text, (object?)after?.Id ?? DBNull.Value);
        list.Parameters.AddWithValue("key", after?.SortKey ?? 0L);
        list.Parameters.AddWithValue("take", query.PageSize + 1);
        var read = new List<WorkflowInstance>();
        var keys = new Dictionary<WorkflowInstance, long>(ReferenceEqualityComparer.Instance);
        await using (var reader = await list.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var instance = Read(reader);
                keys[instance] = reader.GetInt64(10);
                read.Add(instance);
            }
        }

        return WorkflowPage.Build(read, query, i => keys[i]);
    }

    /// <summary>Creates or migrates the table now (at start-up), so a bad configuration stops the host.</summary>
    internal Task EnsureSchemaAsync(CancellationToken cancellationToken) =>
        _database.EnsureSchemaAsync(Migrations.WorkflowsComponent, Migrations.Workflows, cancellationToken);

    /// <summary>Closes the pooled connections. The instances stay in the database.</summary>
    public ValueTask DisposeAsync() => _database.DisposeAsync();

    private Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) =>
        _database.OpenAsync(Migrations.WorkflowsComponent, Migrations.Workflows, cancellationToken);

    private static void Validate(WorkflowInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentException.ThrowIfNullOrEmpty(instance.WorkflowName, nameof(instance));
        ArgumentException.ThrowIfNullOrEmpty(instance.Id, nameof(instance));
        ArgumentNullException.ThrowIfNull(instance.StateJson, nameof(instance));
        ArgumentNullException.ThrowIfNull(instance.History, nameof(instance));
    }

    private static void Bind(NpgsqlCommand command, WorkflowInstance instance)
    {
        command.Parameters.AddWithValue("name", instance.WorkflowName);
        command.Parameters.AddWithValue("id", instance.Id);
        command.Parameters.AddWithValue("correlation", NpgsqlDbType.Text, (object?)instance.CorrelationValue ?? DBNull.Value);
        command.Parameters.AddWithValue("status", instance.Status.ToString());
        command.Parameters.AddWithValue("state", instance.StateJson);
        command.Parameters.AddWithValue("history", StoreJson.SerializeHistory(instance.History));
        command.Parameters.AddWithValue("created", instance.CreatedAt.ToString("O", CultureInfo.InvariantCulture));
        command.Parameters.AddWithValue("updated", instance.UpdatedAt.ToString("O", CultureInfo.InvariantCulture));
        command.Parameters.AddWithValue("failure", NpgsqlDbType.Text, (object?)instance.FailureReason ?? DBNull.Value);
    }

    private static async Task<WorkflowInstance?> ReadOneAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    private static WorkflowInstance Read(NpgsqlDataReader reader)
    {
        var name = reader.GetString(0);
        var id = reader.GetString(1);
        var statusText = reader.GetString(4);
        if (!Enum.TryParse<WorkflowStatus>(statusText, ignoreCase: false, out var status) || !Enum.IsDefined(status))
        {
            throw new InvalidDataException($"Workflow '{name}' instance '{id}' has an unknown status '{statusText}' in the database.");
        }

        return new WorkflowInstance(
            name,
            id,
            reader.IsDBNull(2) ? null : reader.GetString(2),
            reader.GetInt64(3),
            status,
            reader.GetString(5),
            StoreJson.DeserializeHistory(reader.GetString(6)),
            ParseTime(reader.GetString(7)),
            ParseTime(reader.GetString(8)),
            reader.IsDBNull(9) ? null : reader.GetString(9));
    }

    private static DateTimeOffset ParseTime(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
}

using System.Globalization;
using Bus.Storage;
using Bus.Sqlite.Schema;
using Bus.Workflows;
using Microsoft.Data.Sqlite;

namespace Bus.Sqlite;

/// <summary>
/// A durable workflow store in a SQLite database file (table <c>bus_workflows</c>) with optimistic concurrency:
/// an update only applies when the stored version is the expected one, and (workflow name, correlation value) is
/// unique. State and history are stored as JSON. The file may be the transport's.
/// </summary>
public sealed class SqliteWorkflowStore : IWorkflowStore, IDisposable
{
    private const int SqliteConstraint = 19;
    private const int SqliteConstraintPrimaryKey = 1555;
    private const string Columns =
        "workflow_name, id, correlation_value, version, status, state_json, history_json, created_at, updated_at, failure_reason";

    private readonly SqliteDatabase _database;

    /// <summary>Creates a store over the database file a Microsoft.Data.Sqlite connection string names
    /// (e.g. <c>Data Source=data/bus.db</c>). Nothing is opened until first use.</summary>
    /// <param name="connectionString">Names a database file; in-memory databases are rejected.</param>
    /// <exception cref="ArgumentException">The connection string is empty or names no file.</exception>
    public SqliteWorkflowStore(string connectionString)
    {
        _database = new SqliteDatabase(connectionString);
    }

    /// <summary>Creates a store over the database file at <paramref name="databasePath"/> (created with its folder on first use).</summary>
    /// <exception cref="ArgumentException">The path is empty.</exception>
    public static SqliteWorkflowStore ForFile(string databasePath) => new(SqliteDatabase.ForPath(databasePath));

    /// <inheritdoc />
    public async Task<WorkflowInstance?> GetAsync(string workflowName, string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(workflowName);
        ArgumentException.ThrowIfNullOrEmpty(id);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var get = Sql.Command(connection, null, $"SELECT {Columns} FROM bus_workflows WHERE workflow_name = $name AND id = $id;");
        get.Parameters.AddWithValue("$name", workflowName);
        get.Parameters.AddWithValue("$id", id);
        return await ReadOneAsync(get, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<WorkflowInstance?> FindAsync(string workflowName, string correlationValue, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(workflowName);
        ArgumentNullException.ThrowIfNull(correlationValue);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var find = Sql.Command(
            connection, null, $"SELECT {Columns} FROM bus_workflows WHERE workflow_name = $name AND correlation_value = $correlation;");
        find.Parameters.AddWithValue("$name", workflowName);
        find.Parameters.AddWithValue("$correlation", correlationValue);
        return await ReadOneAsync(find, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>Reads the workflow's rows by primary key prefix; newest first sorts them by creation time (parsed to UTC
    /// ticks, as the text may carry any offset) in the query.</remarks>
    public async Task<WorkflowPage> ListAsync(WorkflowListQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Validate();
        var after = WorkflowListCursor.Parse(query.ContinuationToken, query.Order);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        connection.CreateFunction<string, long>("bus_utc_ticks", UtcTicks, isDeterministic: true);
        var (seek, order) = query.Order == WorkflowListOrder.NewestFirst
            ? ("(bus_utc_ticks(created_at) < $key OR (bus_utc_ticks(created_at) = $key AND id > $after))", "bus_utc_ticks(created_at) DESC, id")
            : ("id > $after", "id");
        await using var list = Sql.Command(
            connection,
            null,
            $"""
            SELECT {Columns} FROM bus_workflows
             WHERE workflow_name = $name AND ($status IS NULL OR status = $status) AND ($after IS NULL OR {seek})
             ORDER BY {order}
             LIMIT $take;
            """);
        list.Parameters.AddWithValue("$name", query.WorkflowName);
        list.Parameters.AddWithValue("$status", (object?)query.Status?.ToString() ?? DBNull.Value);
        list.Parameters.AddWithValue("$after", (object?)after?.Id ?? DBNull.Value);
        list.Parameters.AddWithValue("$key", after?.SortKey ?? 0);
        list.Parameters.AddWithValue("$take", query.PageSize + 1);
        var read = new List<WorkflowInstance>();
        await using (var reader = await list.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                read.Add(Read(reader));
            }
        }

        return WorkflowPage.Build(read, query, i => i.CreatedAt.UtcTicks);
    }

    /// <inheritdoc />
    public async Task InsertAsync(WorkflowInstance instance, CancellationToken cancellationToken)
    {
        Validate(instance);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var insert = Sql.Command(
            connection,
            null,
            $"""
            INSERT INTO bus_workflows ({Columns})
            VALUES ($name, $id, $correlation, 1, $status, $state, $history, $created, $updated, $failure);
            """);
        Bind(insert, instance);
        try
        {
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == SqliteConstraint)
        {
            throw new WorkflowConcurrencyException(e.SqliteExtendedErrorCode == SqliteConstraintPrimaryKey
                ? $"Workflow '{instance.WorkflowName}' instance '{instance.Id}' already exists."
                : $"Workflow '{instance.WorkflowName}' already has an instance correlated on '{instance.CorrelationValue}'.");
        }
    }

    /// <inheritdoc />
    public async Task UpdateAsync(WorkflowInstance instance, long expectedVersion, CancellationToken cancellationToken)
    {
        Validate(instance);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var update = Sql.Command(
            connection,
            null,
            """
            UPDATE bus_workflows
               SET version = $expected + 1, correlation_value = $correlation, status = $status, state_json = $state,
                   history_json = $history, created_at = $created, updated_at = $updated, failure_reason = $failure
             WHERE workflow_name = $name AND id = $id AND version = $expected;
            """);
        Bind(update, instance);
        update.Parameters.AddWithValue("$expected", expectedVersion);
        int changed;
        try
        {
            changed = await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SqliteException e) when (e.SqliteErrorCode == SqliteConstraint)
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

    /// <summary>Lets the pooled connections to the file go. The instances stay in the file.</summary>
    public void Dispose() => _database.ReleasePooledConnections();

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        await _database.EnsureSchemaAsync(Migrations.WorkflowsComponent, Migrations.Workflows, cancellationToken).ConfigureAwait(false);
        return await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
    }

    private static void Validate(WorkflowInstance instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        ArgumentException.ThrowIfNullOrEmpty(instance.WorkflowName, nameof(instance));
        ArgumentException.ThrowIfNullOrEmpty(instance.Id, nameof(instance));
        ArgumentNullException.ThrowIfNull(instance.StateJson, nameof(instance));
        ArgumentNullException.ThrowIfNull(instance.History, nameof(instance));
    }

    private static void Bind(SqliteCommand command, WorkflowInstance instance)
    {
        command.Parameters.AddWithValue("$name", instance.WorkflowName);
        command.Parameters.AddWithValue("$id", instance.Id);
        command.Parameters.AddWithValue("$correlation", (object?)instance.CorrelationValue ?? DBNull.Value);
        command.Parameters.AddWithValue("$status", instance.Status.ToString());
        command.Parameters.AddWithValue("$state", instance.StateJson);
        command.Parameters.AddWithValue("$history", StoreJson.SerializeHistory(instance.History));
        command.Parameters.AddWithValue("$created", instance.CreatedAt.ToString("O", CultureInfo.InvariantCulture));
        command.Parameters.AddWithValue("$updated", instance.UpdatedAt.ToString("O", CultureInfo.InvariantCulture));
        command.Parameters.AddWithValue("$failure", (object?)instance.FailureReason ?? DBNull.Value);
    }

    private static async Task<WorkflowInstance?> ReadOneAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    private static WorkflowInstance Read(SqliteDataReader reader)
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

    private static long UtcTicks(string text) => ParseTime(text).UtcTicks;

    private static DateTimeOffset ParseTime(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
}

using Npgsql;
using NpgsqlTypes;

namespace Bus.PostgreSql.Schema;

/// <summary>
/// Brings a component's tables to the latest version, recorded per component in <c>{schema}.schema_versions</c>. A
/// transaction-scoped advisory lock per schema makes hosts starting together migrate one after the other; a schema newer
/// than this version of Bus.PostgreSql knows stops start-up, since Bus never downgrades a schema.
/// </summary>
internal static class SchemaMigrator
{
    public static async Task MigrateAsync(
        PostgreSqlDatabase database, string component, IReadOnlyList<string> migrations, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var lockSchema = database.Command(connection, transaction, "SELECT pg_advisory_xact_lock(hashtext('bus-schema:' || @schema));"))
        {
            lockSchema.Parameters.AddWithValue("schema", database.SchemaName);
            await lockSchema.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        // Created only when missing, so an existing schema needs no CREATE right on the database.
        await using (var exists = database.Command(connection, transaction, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = @schema);"))
        {
            exists.Parameters.AddWithValue("schema", database.SchemaName);
            if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not true)
            {
                await ExecuteAsync(database, connection, transaction, "CREATE SCHEMA IF NOT EXISTS {schema};", cancellationToken).ConfigureAwait(false);
            }
        }

        await using (var versioned = database.Command(connection, transaction, "SELECT to_regclass(@table) IS NOT NULL;"))
        {
            versioned.Parameters.AddWithValue("table", $"\"{database.SchemaName}\".schema_versions");
            if (await versioned.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not true)
            {
                await ExecuteAsync(
                    database,
                    connection,
                    transaction,
                    """
                    CREATE TABLE IF NOT EXISTS {schema}.schema_versions (
                        component  text        NOT NULL PRIMARY KEY,
                        version    integer     NOT NULL,
                        updated_at timestamptz NOT NULL
                    );
                    """,
                    cancellationToken).ConfigureAwait(false);
            }
        }

        int current;
        await using (var read = database.Command(connection, transaction, "SELECT version FROM {schema}.schema_versions WHERE component = @component;"))
        {
            read.Parameters.AddWithValue("component", component);
            current = await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is int v ? v : 0;
        }

        if (current > migrations.Count)
        {
            throw new BusConfigurationException(
                $"PostgreSQL {database.Describe()} has {component} schema version {current}, newer than the {migrations.Count} this " +
                "version of Bus.PostgreSql knows: a newer Bus migrated it. Upgrade Bus.PostgreSql on this host; it never downgrades a schema.");
        }

        if (current < migrations.Count)
        {
            for (var i = current; i < migrations.Count; i++)
            {
                await ExecuteAsync(database, connection, transaction, migrations[i], cancellationToken).ConfigureAwait(false);
            }

            await using var write = database.Command(
                connection,
                transaction,
                """
                INSERT INTO {schema}.schema_versions (component, version, updated_at) VALUES (@component, @version, now())
                ON CONFLICT (component) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at;
                """);
            write.Parameters.AddWithValue("component", component);
            write.Parameters.AddWithValue("version", NpgsqlDbType.Integer, migrations.Count);
            await write.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task ExecuteAsync(
        PostgreSqlDatabase database, NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = database.Command(connection, transaction, sql);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}

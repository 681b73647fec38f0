using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Bus.Sqlite.Schema;

/// <summary>
/// Applies numbered migrations per component and records the version in <c>bus_schema</c>. Runs under
/// <c>BEGIN IMMEDIATE</c>, so processes starting together migrate once.
/// </summary>
internal static class SchemaMigrator
{
    public static async Task MigrateAsync(
        SqliteDatabase database, string component, IReadOnlyList<string> migrations, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);

        // WAL lets readers and one writer work at once; the mode is stored in the file, so this is a one-off.
        await using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode = WAL;";
            var mode = Convert.ToString(await wal.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException(
                    $"SQLite database '{database.FilePath}' could not be switched to WAL journal mode (it reports '{mode}').");
            }
        }

        await using var transaction = connection.BeginTransaction(deferred: false);
        await Sql.ExecuteAsync(
            connection,
            transaction,
            """
            CREATE TABLE IF NOT EXISTS bus_schema (
                component  TEXT    NOT NULL PRIMARY KEY,
                version    INTEGER NOT NULL,
                updated_at TEXT    NOT NULL
            );
            """,
            cancellationToken).ConfigureAwait(false);

        long current;
        await using (var read = Sql.Command(connection, transaction, "SELECT version FROM bus_schema WHERE component = $component;"))
        {
            read.Parameters.AddWithValue("$component", component);
            current = await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long v ? v : 0;
        }

        if (current > migrations.Count)
        {
            throw new InvalidOperationException(
                $"SQLite database '{database.FilePath}' has {component} schema version {current}, newer than the {migrations.Count} " +
                "this version of Bus.Sqlite knows. Upgrade Bus.Sqlite; it never downgrades a schema.");
        }

        if (current == migrations.Count)
        {
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        for (var i = (int)current; i < migrations.Count; i++)
        {
            await Sql.ExecuteAsync(connection, transaction, migrations[i], cancellationToken).ConfigureAwait(false);
        }

        await using (var write = Sql.Command(
            connection,
            transaction,
            """
            INSERT INTO bus_schema (component, version, updated_at) VALUES ($component, $version, $now)
            ON CONFLICT (component) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at;
            """))
        {
            write.Parameters.AddWithValue("$component", component);
            write.Parameters.AddWithValue("$version", migrations.Count);
            write.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
            await write.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Small helpers for commands bound to a transaction.</summary>
internal static class Sql
{
    public static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string text)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = text;
        return command;
    }

    public static async Task<int> ExecuteAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string text, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, text);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}

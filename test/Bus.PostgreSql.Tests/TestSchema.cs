using Npgsql;

namespace Bus.PostgreSql.Tests;

/// <summary>A schema of its own on the test server (build/start-postgres.sh), dropped on dispose, so test classes run in
/// parallel without seeing each other's queues.</summary>
public sealed class TestSchema : IAsyncDisposable
{
    /// <summary>The test server: BUS_POSTGRES_CONNECTION_STRING, as build/test.sh exports it, or its default.</summary>
    public static string ServerConnectionString =>
        Environment.GetEnvironmentVariable("BUS_POSTGRES_CONNECTION_STRING") is { Length: > 0 } configured
            ? configured
            : $"Host=127.0.0.1;Port={Environment.GetEnvironmentVariable("BUS_POSTGRES_PORT") ?? "5433"};Username=bus;Database=postgres";

    public string Name { get; } = "t_" + Guid.NewGuid().ToString("N")[..16];

    public string ConnectionString => ServerConnectionString;

    /// <summary>Runs SQL on the test server as its superuser.</summary>
    public static async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(ServerConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync() => await ExecuteAsync($"DROP SCHEMA IF EXISTS \"{Name}\" CASCADE;");
}

using System.Text.Json;
using System.Text.Json.Serialization;
using Bus.Workflows;

namespace Bus.Storage;

/// <summary>
/// The JSON that the stores write: message headers as an object of strings, lists of ids, and workflow history in a
/// stored shape of its own (kept apart from the public record, so the format stays stable). One source file compiled
/// into Bus.Sqlite, Bus.PostgreSql, Bus.DynamoDb and Bus.AzureTables (see src/Shared/README.md), internal to each, so
/// all write the same format.
/// </summary>
internal static class StoreJson
{
    public static string SerializeHeaders(IReadOnlyDictionary<string, string> headers) =>
        JsonSerializer.Serialize(new Dictionary<string, string>(headers, StringComparer.Ordinal), StoreJsonContext.Default.DictionaryStringString);

    public static Dictionary<string, string> DeserializeHeaders(string json) =>
        JsonSerializer.Deserialize(json, StoreJsonContext.Default.DictionaryStringString) ?? new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>A JSON array of <paramref name="values"/>, e.g. for SQLite's <c>json_each</c>.</summary>
    public static string SerializeStrings(IEnumerable<string> values) =>
        JsonSerializer.Serialize(values.ToArray(), StoreJsonContext.Default.StringArray);

    public static string SerializeHistory(IEnumerable<WorkflowHistoryEntry> history) =>
        JsonSerializer.Serialize(
            history.Select(h => new StoredHistoryEntry(h.At, h.MessageType, h.MessageId, h.Note)).ToList(),
            StoreJsonContext.Default.ListStoredHistoryEntry);

    public static List<WorkflowHistoryEntry> DeserializeHistory(string json) =>
        (JsonSerializer.Deserialize(json, StoreJsonContext.Default.ListStoredHistoryEntry) ?? [])
            .Select(h => new WorkflowHistoryEntry(h.At, h.MessageType, h.MessageId, h.Note))
            .ToList();
}

/// <summary>Source-generated JSON for <see cref="StoreJson"/>.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(List<StoredHistoryEntry>))]
internal sealed partial class StoreJsonContext : JsonSerializerContext;

/// <summary>The stored shape of one workflow history entry.</summary>
internal sealed record StoredHistoryEntry(DateTimeOffset At, string MessageType, string MessageId, string? Note);

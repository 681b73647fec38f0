using System.Text.Json.Serialization;

namespace Bus.Sqlite.Json;

/// <summary>Source-generated JSON for what Bus.Sqlite stores: headers, id lists and workflow history.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(List<StoredHistoryEntry>))]
internal sealed partial class SqliteJson : JsonSerializerContext;

/// <summary>The stored shape of one workflow history entry (kept apart from the public record so the format is stable).</summary>
internal sealed record StoredHistoryEntry(DateTimeOffset At, string MessageType, string MessageId, string? Note);

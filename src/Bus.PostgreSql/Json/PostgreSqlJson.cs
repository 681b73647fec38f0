using System.Text.Json.Serialization;

namespace Bus.PostgreSql.Json;

/// <summary>Source-generated JSON for what Bus.PostgreSql stores: headers and workflow history.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(List<StoredHistoryEntry>))]
internal sealed partial class PostgreSqlJson : JsonSerializerContext;

/// <summary>The stored shape of one workflow history entry (kept apart from the public record so the format is stable).</summary>
internal sealed record StoredHistoryEntry(DateTimeOffset At, string MessageType, string MessageId, string? Note);

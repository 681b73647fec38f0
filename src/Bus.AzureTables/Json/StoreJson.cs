using System.Text.Json.Serialization;

namespace Bus.AzureTables.Json;

/// <summary>Source-generated JSON for what the Azure Tables stores keep as JSON: workflow history.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(List<StoredHistoryEntry>))]
internal sealed partial class StoreJson : JsonSerializerContext;

/// <summary>The stored shape of one workflow history entry (kept apart from the public record so the format is stable).</summary>
internal sealed record StoredHistoryEntry(DateTimeOffset At, string MessageType, string MessageId, string? Note);

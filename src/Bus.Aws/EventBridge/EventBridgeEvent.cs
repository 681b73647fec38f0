using System.Text.Json.Serialization;
using Bus.SystemMessages;

namespace Bus.Aws.EventBridge;

/// <summary>The EventBridge envelope every AWS event shares.</summary>
/// <typeparam name="TDetail">The shape of <see cref="Detail"/>.</typeparam>
public abstract record EventBridgeEvent<TDetail> : ISystemMessageIdentity
    where TDetail : class
{
    /// <summary>The event id (unique per event, repeated on redelivery).</summary>
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    /// <summary>E.g. "ECS Task State Change".</summary>
    [JsonPropertyName("detail-type")]
    public required string DetailType { get; init; }

    /// <summary>E.g. "aws.ecs".</summary>
    [JsonPropertyName("source")]
    public required string Source { get; init; }

    /// <summary>The AWS account id.</summary>
    [JsonPropertyName("account")]
    public string? Account { get; init; }

    /// <summary>When the event happened.</summary>
    [JsonPropertyName("time")]
    public DateTimeOffset Time { get; init; }

    /// <summary>The AWS region.</summary>
    [JsonPropertyName("region")]
    public string? Region { get; init; }

    /// <summary>ARNs of the resources involved.</summary>
    [JsonPropertyName("resources")]
    public IReadOnlyList<string> Resources { get; init; } = [];

    /// <summary>The service-specific detail.</summary>
    [JsonPropertyName("detail")]
    public required TDetail Detail { get; init; }

    string ISystemMessageIdentity.SystemMessageId => Id;

    DateTimeOffset? ISystemMessageIdentity.OccurredAt => Time == default ? null : Time;
}

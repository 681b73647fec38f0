using System.Text.Json;
using Bus.Aws.Ecs;
using Bus.SystemMessages;

namespace Bus.Aws;

/// <summary>Maps AWS EventBridge events delivered to an endpoint's queue to typed system messages.</summary>
public static class EventBridgeSystemMessages
{
    /// <summary>Maps EventBridge events with this <paramref name="source"/> and <paramref name="detailType"/> to
    /// <typeparamref name="TMessage"/> (deserialized from the whole event, e.g. a record derived from
    /// <see cref="EventBridge.EventBridgeEvent{TDetail}"/>).</summary>
    public static SystemMessageMap MapEventBridge<TMessage>(this SystemMessageMap map, string source, string detailType)
        where TMessage : class
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        ArgumentException.ThrowIfNullOrWhiteSpace(detailType);
        return map.Map<TMessage>(
            $"EventBridge {source} / {detailType}",
            root => root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("source", out var s) && s.ValueKind == JsonValueKind.String && s.ValueEquals(source)
                && root.TryGetProperty("detail-type", out var d) && d.ValueKind == JsonValueKind.String && d.ValueEquals(detailType));
    }

    /// <summary>Maps ECS "Task State Change" events (source aws.ecs) to <see cref="EcsTaskStateChange"/>.</summary>
    public static SystemMessageMap MapEcsTaskStateChange(this SystemMessageMap map) =>
        map.MapEventBridge<EcsTaskStateChange>(EcsTaskStateChange.EventSource, EcsTaskStateChange.EventDetailType);
}

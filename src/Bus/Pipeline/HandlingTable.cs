using System.Collections.Concurrent;
using Bus.Hosting;
using Bus.Leases;
using Bus.Transports;

namespace Bus.Pipeline;

/// <summary>How each message type is handled on this endpoint, found once per type.</summary>
internal sealed class HandlingTable
{
    private readonly BusConfiguration _config;
    private readonly ConcurrentDictionary<MessageType, TypeHandling> _handling = new(ReferenceEqualityComparer.Instance);
    private readonly Func<MessageType, TypeHandling> _create;

    public HandlingTable(BusConfiguration config)
    {
        _config = config;
        _create = Create;
    }

    /// <summary>The endpoint's profile, for messages whose type is not known at receive.</summary>
    public ExecutionProfile DefaultProfile => _config.Profile;

    /// <summary>The lease asked for at receive: the longest any handler's profile wants.</summary>
    public TimeSpan ReceiveLease =>
        _config.AllHandlerOptions.Values.Select(o => o.Profile?.LeaseDuration ?? TimeSpan.Zero).Append(_config.Profile.LeaseDuration).Max();

    public TypeHandling For(MessageType type) => _handling.GetOrAdd(type, _create);

    /// <summary>The profile a received message's lease is renewed with, from its type header (before it is resolved
    /// and deserialized); the endpoint's for a foreign payload or an unknown wire name.</summary>
    public ExecutionProfile ProfileFor(IReceivedMessage received) =>
        received.Message.Headers.TryGetValue(MessageHeaders.MessageType, out var name) && _config.Messages.TryResolve(name, out var type)
            ? For(type).Profile
            : _config.Profile;

    /// <summary>The type of a received message and its concurrency limit, when its type has one (read from its type
    /// header, before it is resolved).</summary>
    public bool TryGetLimit(IReceivedMessage received, out MessageType type, out int limit)
    {
        limit = 0;
        if (received.Message.Headers.TryGetValue(MessageHeaders.MessageType, out var name) && _config.Messages.TryResolve(name, out type)
            && For(type).Options?.ConcurrencyLimit is { } max)
        {
            limit = max;
            return true;
        }

        type = null!;
        return false;
    }

    private TypeHandling Create(MessageType type)
    {
        var options = _config.OptionsFor(type.ClrType);
        return new TypeHandling(type, _config.Handlers.For(type.ClrType), options, options?.Profile ?? _config.Profile, options?.Retry ?? _config.Retry);
    }
}

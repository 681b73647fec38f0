using System.Collections.Concurrent;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Bus;

/// <summary>
/// Maps CLR types to wire names and back. A payload only ever becomes a type the application registered: the wire
/// never names a CLR type.
/// </summary>
internal sealed partial class MessageTypeRegistry
{
    private readonly ConcurrentDictionary<Type, MessageType> _byType = new();
    private readonly ConcurrentDictionary<string, MessageType> _byName = new(StringComparer.Ordinal);
    private MessageType? _lastResolved;
    private readonly object _gate = new();

    public IEnumerable<MessageType> All => _byType.Values;

    /// <summary>Registers a type (idempotent). The kind comes from <paramref name="kind"/>, else from the marker interfaces.</summary>
    public MessageType Register(Type type, MessageKind? kind = null)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (_byType.TryGetValue(type, out var existing) && (kind is null || existing.Kind == kind))
        {
            return existing;
        }

        lock (_gate)
        {
            var described = Describe(type, kind);
            if (_byName.TryGetValue(described.WireName, out var clash) && clash.ClrType != type)
            {
                throw new BusConfigurationException(
                    $"Message types '{clash.ClrType.FullName}' and '{type.FullName}' both use the wire name '{described.WireName}'. Give one a different [MessageName].");
            }

            if (_byType.TryGetValue(type, out existing) && existing.Kind != described.Kind)
            {
                throw new BusConfigurationException(
                    $"Message type '{type.FullName}' is registered both as a {existing.Kind.ToString().ToLowerInvariant()} and as a {described.Kind.ToString().ToLowerInvariant()}.");
            }

            _byType[type] = described;
            _byName[described.WireName] = described;
            _lastResolved = null;
            return described;
        }
    }

    /// <summary>The registration of <paramref name="type"/>, registering it on first use.</summary>
    public MessageType Get(Type type) => _byType.TryGetValue(type, out var found) ? found : Register(type);

    /// <summary>The type registered under <paramref name="wireName"/>, if any. The last one found is checked first: an
    /// endpoint mostly receives runs of one type, and comparing a name is cheaper than hashing it.</summary>
    public bool TryResolve(string wireName, out MessageType messageType)
    {
        ArgumentNullException.ThrowIfNull(wireName);
        if (Volatile.Read(ref _lastResolved) is { } last && string.Equals(last.WireName, wireName, StringComparison.Ordinal))
        {
            messageType = last;
            return true;
        }

        if (_byName.TryGetValue(wireName, out messageType!))
        {
            Volatile.Write(ref _lastResolved, messageType);
            return true;
        }

        return false;
    }

    private static MessageType Describe(Type type, MessageKind? kind)
    {
        if (type.IsAbstract || type.IsInterface || type.IsGenericTypeDefinition)
        {
            throw new BusConfigurationException($"'{type.FullName}' cannot be a message type: use a concrete class or record.");
        }

        var attribute = type.GetCustomAttribute<MessageNameAttribute>();
        var name = attribute?.Name ?? type.FullName ?? type.Name;
        if (!ValidName().IsMatch(name))
        {
            throw new BusConfigurationException(
                $"'{name}' is not a valid wire name for '{type.FullName}': use 1-200 letters, digits, '.', '-', '_', ':' or '+'.");
        }

        if (attribute is { Version: < 1 })
        {
            throw new BusConfigurationException($"The version of message '{name}' must be 1 or more.");
        }

        var isCommand = typeof(ICommand).IsAssignableFrom(type);
        var isEvent = typeof(IEvent).IsAssignableFrom(type);
        if (isCommand && isEvent)
        {
            throw new BusConfigurationException($"'{type.FullName}' implements both ICommand and IEvent; a message is one or the other.");
        }

        var resolved = kind ?? (isEvent ? MessageKind.Event : isCommand ? MessageKind.Command
            : throw new BusConfigurationException(
                $"'{type.FullName}' is neither an ICommand nor an IEvent. Implement one of them or register it with bus.AddMessage<T>(MessageKind)."));
        if ((resolved == MessageKind.Command && isEvent) || (resolved == MessageKind.Event && isCommand))
        {
            throw new BusConfigurationException($"'{type.FullName}' cannot be registered as a {resolved.ToString().ToLowerInvariant()}: its marker interface says otherwise.");
        }

        var priority = type.GetCustomAttribute<MessagePriorityAttribute>()?.Priority ?? DeliveryOptions.MinPriority;
        if (priority is < DeliveryOptions.MinPriority or > DeliveryOptions.MaxPriority)
        {
            throw new BusConfigurationException(
                $"[MessagePriority({priority})] on '{type.FullName}' is out of range: use {DeliveryOptions.MinPriority} (the default) to {DeliveryOptions.MaxPriority} (delivered first).");
        }

        return new MessageType(type, name, attribute?.Version ?? 1, resolved) { Priority = priority };
    }

    [GeneratedRegex("^[A-Za-z0-9._:+-]{1,200}$")]
    private static partial Regex ValidName();
}

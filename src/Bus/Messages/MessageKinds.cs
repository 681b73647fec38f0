namespace Bus;

/// <summary>Marks a command: an instruction with exactly one owning endpoint. Sent with <see cref="IBus.SendAsync{TCommand}"/>.</summary>
public interface ICommand;

/// <summary>Marks an event: a fact that every subscribing endpoint receives. Published with <see cref="IBus.PublishAsync{TEvent}"/>.</summary>
public interface IEvent;

/// <summary>Gives a message type a stable name and version on the wire, independent of its CLR name.</summary>
/// <param name="name">The wire name, e.g. "billing.close-month". Letters, digits, '.', '-', '_' and ':'.</param>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, Inherited = false)]
public sealed class MessageNameAttribute(string name) : Attribute
{
    /// <summary>The wire name.</summary>
    public string Name { get; } = name;

    /// <summary>The contract version (default 1).</summary>
    public int Version { get; init; } = 1;
}

/// <summary>
/// The default priority of a message type, 0 to 9 (higher is delivered sooner); <see cref="DeliveryOptions.Priority"/>
/// overrides it per send. Part of the contract, so every endpoint that sends the type uses the same default.
/// </summary>
/// <param name="priority">0 (the default of every type) to 9.</param>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class MessagePriorityAttribute(int priority) : Attribute
{
    /// <summary>The default priority, 0 to 9.</summary>
    public int Priority { get; } = priority;
}

/// <summary>Whether a message type is a command or an event.</summary>
public enum MessageKind
{
    /// <summary>One owner; sent.</summary>
    Command,

    /// <summary>Every subscriber; published.</summary>
    Event,
}

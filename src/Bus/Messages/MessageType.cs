namespace Bus;

/// <summary>A registered message type: its CLR type, wire name, version and kind.</summary>
/// <param name="ClrType">The CLR type.</param>
/// <param name="WireName">The name on the wire.</param>
/// <param name="Version">The contract version.</param>
/// <param name="Kind">Command or event.</param>
public sealed record MessageType(Type ClrType, string WireName, int Version, MessageKind Kind)
{
    /// <summary>The default priority of the type's messages, 0 to 9 (<see cref="MessagePriorityAttribute"/>).</summary>
    public int Priority { get; init; }
}

namespace Bus.Transports;

/// <summary>Whether a destination is a queue (one consumer endpoint) or a topic (fan-out to subscribers).</summary>
public enum DestinationKind
{
    /// <summary>A queue owned by one endpoint.</summary>
    Queue,

    /// <summary>A topic whose subscribers each receive a copy.</summary>
    Topic,
}

/// <summary>Where an outgoing message goes: a logical queue or topic name; the transport maps it to a physical entity.</summary>
/// <param name="Kind">Queue or topic.</param>
/// <param name="Name">The logical name (an endpoint name or an event's wire name).</param>
public readonly record struct Destination(DestinationKind Kind, string Name)
{
    /// <summary>A queue destination.</summary>
    public static Destination Queue(string name) => new(DestinationKind.Queue, Require(name));

    /// <summary>A topic destination.</summary>
    public static Destination Topic(string name) => new(DestinationKind.Topic, Require(name));

    private static string Require(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return name;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Kind.ToString().ToLowerInvariant()}:{Name}";
}

/// <summary>A message to send, with its destination and the earliest time it may be received.</summary>
/// <param name="Destination">The queue or topic.</param>
/// <param name="Message">Headers and body.</param>
/// <param name="VisibleAt">Earliest delivery time, or null for now. Never later than the transport's
/// <see cref="TransportCapabilities.MaxDelay"/> from now: the bus re-delays longer waits in hops.</param>
public sealed record OutgoingMessage(Destination Destination, TransportMessage Message, DateTimeOffset? VisibleAt = null);

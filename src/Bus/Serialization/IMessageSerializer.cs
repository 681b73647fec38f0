namespace Bus.Serialization;

/// <summary>Turns messages into bytes and back. Messages are serialized even on the in-memory transport.</summary>
public interface IMessageSerializer
{
    /// <summary>The content type written to <see cref="MessageHeaders.ContentType"/>.</summary>
    string ContentType { get; }

    /// <summary>Serializes <paramref name="message"/> as <paramref name="type"/>.</summary>
    byte[] Serialize(object message, Type type);

    /// <summary>Deserializes a body as <paramref name="type"/>; throws when the body does not fit the type.</summary>
    object Deserialize(ReadOnlySpan<byte> body, Type type);
}

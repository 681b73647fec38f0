using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Bus.Serialization;

/// <summary>
/// The default serializer: System.Text.Json with web defaults (camelCase). Give it a source-generated
/// <see cref="IJsonTypeInfoResolver"/> (a <c>JsonSerializerContext</c>) for trimming and speed.
/// </summary>
public sealed class SystemTextJsonMessageSerializer : IMessageSerializer
{
    private readonly JsonSerializerOptions _options;

    /// <summary>Creates the serializer.</summary>
    /// <param name="options">Serializer options; web defaults when null. Made read-only.</param>
    public SystemTextJsonMessageSerializer(JsonSerializerOptions? options = null)
    {
        _options = options ?? new JsonSerializerOptions(JsonSerializerDefaults.Web);
        _options.TypeInfoResolver ??= new DefaultJsonTypeInfoResolver();
        _options.MakeReadOnly();
    }

    /// <inheritdoc />
    public string ContentType => "application/json";

    /// <inheritdoc />
    public byte[] Serialize(object message, Type type) => JsonSerializer.SerializeToUtf8Bytes(message, _options.GetTypeInfo(type));

    /// <inheritdoc />
    public object Deserialize(ReadOnlySpan<byte> body, Type type) =>
        JsonSerializer.Deserialize(body, _options.GetTypeInfo(type))
        ?? throw new JsonException($"The body is the JSON literal null, not a {type.Name}.");
}

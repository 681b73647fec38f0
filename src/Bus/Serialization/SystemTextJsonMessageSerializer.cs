using System.Collections.Concurrent;
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

    // JsonSerializerOptions.GetTypeInfo checks the type's shape on every call before its own cache: kept here instead.
    private readonly ConcurrentDictionary<Type, JsonTypeInfo> _typeInfos = new();

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
    public byte[] Serialize(object message, Type type) => JsonSerializer.SerializeToUtf8Bytes(message, TypeInfo(type));

    /// <inheritdoc />
    public object Deserialize(ReadOnlySpan<byte> body, Type type) =>
        JsonSerializer.Deserialize(body, TypeInfo(type))
        ?? throw new JsonException($"The body is the JSON literal null, not a {type.Name}.");

    private JsonTypeInfo TypeInfo(Type type) =>
        _typeInfos.TryGetValue(type, out var info) ? info : _typeInfos.GetOrAdd(type, static (t, options) => options.GetTypeInfo(t), _options);
}

using System.Text.Json;

namespace Bus.SystemMessages;

/// <summary>
/// Recognises foreign payloads that carry no bus envelope (e.g. EventBridge events delivered straight to a queue)
/// by their content, and turns them into typed messages that handlers and workflows handle like any other. Cloud
/// packages add their events (e.g. <c>Bus.Aws</c>: <c>MapEventBridge&lt;T&gt;(source, detailType)</c> and
/// <c>MapEcsTaskStateChange()</c>).
/// </summary>
public sealed class SystemMessageMap
{
    private readonly List<Entry> _entries = [];
    private readonly JsonSerializerOptions _json = new(JsonSerializerDefaults.Web);

    /// <summary>The registered message types, in registration order.</summary>
    public IEnumerable<Type> MessageTypes => _entries.Select(e => e.Type);

    /// <summary>Maps payloads for which <paramref name="recognize"/> returns true to <typeparamref name="TMessage"/>.</summary>
    /// <param name="description">Says what is recognised, for logs and errors.</param>
    /// <param name="recognize">Looks at the parsed JSON payload.</param>
    /// <param name="convert">Turns the payload into the message; by default it is deserialized with web defaults.</param>
    public SystemMessageMap Map<TMessage>(string description, Func<JsonElement, bool> recognize, Func<JsonElement, TMessage>? convert = null)
        where TMessage : class
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(description);
        ArgumentNullException.ThrowIfNull(recognize);
        if (_entries.Any(e => e.Type == typeof(TMessage)))
        {
            throw new BusConfigurationException($"System message type '{typeof(TMessage).FullName}' is mapped twice.");
        }

        Func<JsonElement, object> converter = convert is null
            ? root => root.Deserialize<TMessage>(_json) ?? throw new JsonException("The payload is null.")
            : root => convert(root);
        _entries.Add(new Entry(typeof(TMessage), description, recognize, converter));
        return this;
    }

    internal bool TryRecognize(ReadOnlyMemory<byte> body, out Type? type, out object? message, out string? error)
    {
        type = null;
        message = null;
        error = null;
        if (_entries.Count == 0)
        {
            error = "The message has no bus-message-type header and no system messages are mapped on this endpoint.";
            return false;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            error = $"The message has no bus-message-type header and its body is not JSON ({ex.Message}), so it matches no system message.";
            return false;
        }

        using (document)
        {
            foreach (var entry in _entries)
            {
                bool matches;
                try
                {
                    matches = entry.Recognize(document.RootElement);
                }
                catch (Exception ex) when (ex is InvalidOperationException or JsonException or KeyNotFoundException)
                {
                    matches = false;
                }

                if (!matches)
                {
                    continue;
                }

                try
                {
                    message = entry.Convert(document.RootElement);
                    type = entry.Type;
                    return true;
                }
                catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException or NotSupportedException)
                {
                    error = $"The payload looks like {entry.Description} but could not be read as {entry.Type.Name}: {ex.Message}";
                    return false;
                }
            }
        }

        error = "The message has no bus-message-type header and matches no registered system message ("
            + string.Join(", ", _entries.Select(e => e.Description)) + ").";
        return false;
    }

    private sealed record Entry(Type Type, string Description, Func<JsonElement, bool> Recognize, Func<JsonElement, object> Convert);
}

namespace Bus.Transports;

/// <summary>
/// A message as a transport carries it: string headers and an opaque body. Transports never interpret the body.
/// </summary>
/// <remarks>Not sealed only so that a message the bus makes can be its own headers (one object instead of two for
/// every queued message); it has nothing to override.</remarks>
public class TransportMessage
{
    /// <summary>Creates a transport message.</summary>
    /// <param name="headers">The headers; copied (names compared ordinally).</param>
    /// <param name="body">The body bytes.</param>
    public TransportMessage(IReadOnlyDictionary<string, string>? headers, ReadOnlyMemory<byte> body)
    {
        Headers = headers is null ? HeaderList.Empty : HeaderList.From(headers);
        Body = body;
    }

    /// <summary>A message that is its own headers (<see cref="BusMessage"/>).</summary>
    private protected TransportMessage(ReadOnlyMemory<byte> body)
    {
        Headers = this as IReadOnlyDictionary<string, string>
            ?? throw new InvalidOperationException($"{GetType().Name} must be its own headers.");
        Body = body;
    }

    /// <summary>The headers (message attributes).</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>The serialized body.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>Whether a header name matches <paramref name="match"/> (no allocation).</summary>
    internal bool HasHeader(Func<string, bool> match) => ((IHeaderNames)Headers).AnyName(match);

    /// <summary>The bus message id from <see cref="MessageHeaders.MessageId"/>, or null for a foreign payload.</summary>
    public string? MessageId => Headers.TryGetValue(MessageHeaders.MessageId, out var id) ? id : null;

    /// <summary>The priority from <see cref="MessageHeaders.Priority"/>: 0 (also when absent or not a number) to 9
    /// (a larger number counts as 9). Transports order by it (<see cref="TransportCapabilities.PriorityOrdering"/>).</summary>
    public int Priority => Headers.TryGetValue(MessageHeaders.Priority, out var text) ? ParsePriority(text) : 0;

    /// <summary>Reads a <see cref="MessageHeaders.Priority"/> value: 0 when it is not a non-negative number, at most 9.</summary>
    public static int ParsePriority(string? text) =>
        int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value)
            ? Math.Min(value, DeliveryOptions.MaxPriority)
            : 0;

    /// <summary>Returns a copy with the given headers set (added or replaced).</summary>
    public TransportMessage WithHeaders(IEnumerable<KeyValuePair<string, string>> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var headers = new Dictionary<string, string>(Headers, StringComparer.Ordinal);
        foreach (var (key, value) in changes)
        {
            headers[key] = value;
        }

        return new TransportMessage(headers, Body);
    }

    /// <summary>Returns a copy without the headers whose names match <paramref name="remove"/>.</summary>
    public TransportMessage WithoutHeaders(Func<string, bool> remove)
    {
        ArgumentNullException.ThrowIfNull(remove);
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in Headers)
        {
            if (!remove(key))
            {
                headers[key] = value;
            }
        }

        return new TransportMessage(headers, Body);
    }
}

using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Bus.Transports;

/// <summary>
/// A message the bus made, which is its own <see cref="TransportMessage.Headers"/>: its standard headers (id, type,
/// version, content type, sent-at, correlation and causation ids) are fields, the others names and values side by side
/// in one array. One object instead of a message and its headers: a queued message keeps two objects alive (this and
/// its body), and each object a backlog keeps costs the collector about as much as its bytes. The id and the sent-at
/// time are kept as a <see cref="Guid"/> and ticks and formatted on first read: a transport that writes them to the
/// wire reads them, an in-memory delivery whose handler never asks does not.
/// </summary>
internal sealed class BusMessage : TransportMessage, IReadOnlyDictionary<string, string>, IHeaderNames
{
    /// <summary>The length of a UTC time in round-trip format ("O"): 2026-12-02T04:55:14.1234567+00:00.</summary>
    private const int SentAtLength = 33;

    /// <summary>The length of a GUID in "D" format.</summary>
    private const int GuidLength = 36;

    /// <summary>The standard headers, in the order they are listed.</summary>
    private static readonly string[] StandardNames =
    [
        MessageHeaders.MessageId, MessageHeaders.MessageType, MessageHeaders.MessageVersion, MessageHeaders.ContentType,
        MessageHeaders.SentAt, MessageHeaders.CorrelationId, MessageHeaders.CausationId,
    ];

    private readonly Guid _id;
    private readonly long _sentAtTicks;
    private readonly MessageType _type;
    private readonly string _contentType;
    private readonly string? _correlationId;
    private readonly string? _causationId;
    private readonly string[] _others;
    private string? _messageId; // a given id, or the generated one once formatted

    /// <summary>Creates a message the bus made.</summary>
    /// <param name="id">The generated message id (unused when <paramref name="givenId"/> is given).</param>
    /// <param name="givenId">A message id the sender chose, or null.</param>
    /// <param name="sentAt">When it was sent.</param>
    /// <param name="type">The message type: its wire name and version.</param>
    /// <param name="contentType">The body's content type.</param>
    /// <param name="correlationId">The conversation's correlation id, or null when it is this message's own id.</param>
    /// <param name="causationId">The id of the message being handled when this one was sent, or null.</param>
    /// <param name="others">Any other headers; none may be a standard one.</param>
    /// <param name="body">The serialized body.</param>
    public BusMessage(
        Guid id, string? givenId, DateTimeOffset sentAt, MessageType type, string contentType,
        string? correlationId, string? causationId, IReadOnlyDictionary<string, string> others, ReadOnlyMemory<byte> body)
        : base(body)
    {
        _id = id;
        _messageId = givenId;
        _sentAtTicks = sentAt.UtcTicks;
        _type = type;
        _contentType = contentType;
        _correlationId = correlationId;
        _causationId = causationId;
        _others = others.Count == 0 ? [] : HeaderList.Flatten(others);
        for (var i = 0; i < _others.Length; i += 2)
        {
            if (IsStandard(_others[i]))
            {
                throw new ArgumentException($"Header '{_others[i]}' is a standard header; it cannot be given as another one.", nameof(others));
            }
        }
    }

    public int Count => StandardCount + (_others.Length / 2);

    /// <summary>The message id; a generated one is formatted ("D") once, on first read.</summary>
    private string Id => _messageId ??= _id.ToString();

    /// <summary>When it was sent, UTC, in round-trip format; formatted when read (a transport that writes it to the wire
    /// reads it once, a handler seldom).</summary>
    public string SentAt => new DateTimeOffset(_sentAtTicks, TimeSpan.Zero).ToString("O", CultureInfo.InvariantCulture);

    /// <summary>The contract version, formatted (small numbers are cached strings: no allocation).</summary>
    private string Version => _type.Version.ToString(CultureInfo.InvariantCulture);

    private int StandardCount => _causationId is null ? StandardNames.Length - 1 : StandardNames.Length;

    /// <summary>Whether <paramref name="name"/> is one of the standard headers kept in fields.</summary>
    public static bool IsStandard(string name) => Array.IndexOf(StandardNames, name) >= 0;

    IEnumerable<string> IReadOnlyDictionary<string, string>.Keys => this.Select(header => header.Key);

    IEnumerable<string> IReadOnlyDictionary<string, string>.Values => this.Select(header => header.Value);

    public string this[string key] =>
        TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"The message has no header '{key}'.");

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
    {
        ArgumentNullException.ThrowIfNull(key);
        value = Standard(key);
        return value is not null || HeaderList.TryFind(_others, key, out value);
    }

    /// <summary>Whether the header is there, without formatting its value.</summary>
    public bool ContainsKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var index = Array.IndexOf(StandardNames, key);
        return index >= 0 ? index < StandardCount : HeaderList.TryFind(_others, key, out _);
    }

    public bool AnyName(Func<string, bool> match)
    {
        ArgumentNullException.ThrowIfNull(match);
        var count = StandardCount;
        for (var i = 0; i < count; i++)
        {
            if (match(StandardNames[i]))
            {
                return true;
            }
        }

        return HeaderList.AnyName(_others, match);
    }

    public long CharacterCount()
    {
        long characters = 0;
        var count = StandardCount;
        for (var i = 0; i < count; i++)
        {
            characters += StandardNames[i].Length;
        }

        var idLength = _messageId?.Length ?? GuidLength;
        return characters + idLength + _type.WireName.Length + Version.Length + _contentType.Length + SentAtLength
            + (_correlationId?.Length ?? idLength) + (_causationId?.Length ?? 0) + HeaderList.CharacterCount(_others);
    }

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
    {
        var count = StandardCount;
        for (var i = 0; i < count; i++)
        {
            yield return new KeyValuePair<string, string>(StandardNames[i], Standard(StandardNames[i])!);
        }

        for (var i = 0; i < _others.Length; i += 2)
        {
            yield return new KeyValuePair<string, string>(_others[i], _others[i + 1]);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private string? Standard(string key) => key switch
    {
        MessageHeaders.MessageId => Id,
        MessageHeaders.MessageType => _type.WireName,
        MessageHeaders.MessageVersion => Version,
        MessageHeaders.ContentType => _contentType,
        MessageHeaders.SentAt => SentAt,
        MessageHeaders.CorrelationId => _correlationId ?? Id,
        MessageHeaders.CausationId => _causationId,
        _ => null,
    };
}

using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace Bus.Transports;

/// <summary>
/// The headers of a <see cref="TransportMessage"/>: names and values side by side in one array, found by ordinal
/// comparison. A message carries a handful of headers, which a short scan finds as fast as a hash lookup; a
/// <see cref="Dictionary{TKey, TValue}"/> would cost about twice the memory per message (object, buckets, entries).
/// Immutable, so messages made from one another share it.
/// </summary>
internal sealed class HeaderList : IReadOnlyDictionary<string, string>
{
    private readonly string[] _items; // name, value, name, value, ...

    private HeaderList(string[] items) => _items = items;

    public static HeaderList Empty { get; } = new([]);

    public int Count => _items.Length / 2;

    public string this[string key] =>
        TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"The message has no header '{key}'.");

    public IEnumerable<string> Keys
    {
        get
        {
            for (var i = 0; i < _items.Length; i += 2)
            {
                yield return _items[i];
            }
        }
    }

    public IEnumerable<string> Values
    {
        get
        {
            for (var i = 1; i < _items.Length; i += 2)
            {
                yield return _items[i];
            }
        }
    }

    /// <summary>Names and values side by side, for walking them without an enumerator.</summary>
    public ReadOnlySpan<string> Items => _items;

    /// <summary>A copy of <paramref name="headers"/> (shared when it is a <see cref="HeaderList"/> already).</summary>
    public static HeaderList From(IReadOnlyDictionary<string, string> headers)
    {
        switch (headers)
        {
            case HeaderList list:
                return list;
            case { Count: 0 }:
                return Empty;
            case Dictionary<string, string> dictionary:
            {
                var items = new string[dictionary.Count * 2];
                var i = 0;
                foreach (var (name, value) in dictionary)
                {
                    items[i++] = name;
                    items[i++] = value;
                }

                return new HeaderList(items);
            }

            default:
            {
                var items = new List<string>(headers.Count * 2);
                foreach (var (name, value) in headers)
                {
                    items.Add(name);
                    items.Add(value);
                }

                return new HeaderList(items.ToArray());
            }
        }
    }

    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    /// <summary>Whether a header name matches <paramref name="match"/>; walks the names without an enumerator.</summary>
    public bool AnyName(Func<string, bool> match)
    {
        ArgumentNullException.ThrowIfNull(match);
        var items = _items;
        for (var i = 0; i < items.Length; i += 2)
        {
            if (match(items[i]))
            {
                return true;
            }
        }

        return false;
    }

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
    {
        var index = IndexOf(key);
        if (index < 0)
        {
            value = null;
            return false;
        }

        value = _items[index + 1];
        return true;
    }

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
    {
        for (var i = 0; i < _items.Length; i += 2)
        {
            yield return new KeyValuePair<string, string>(_items[i], _items[i + 1]);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private int IndexOf(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var items = _items;
        for (var i = 0; i < items.Length; i += 2)
        {
            if (string.Equals(items[i], key, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}

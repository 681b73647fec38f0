using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Bus.AzureServiceBus.Rest;

/// <summary>
/// Custom message properties travel as one HTTP header each. The value's form gives its type: a quoted value is a
/// string, <c>true</c>/<c>false</c> a bool, an integer an Int64, another number a double. Strings are written as JSON
/// string literals with everything outside printable ASCII escaped, so any text survives an HTTP header.
/// HttpClient writes and reads names it knows (e.g. <c>origin</c>, <c>range</c>) in their standard casing, so the
/// original names of such properties ride along in <see cref="NameCasing"/> and are restored on receive.
/// </summary>
internal static class PropertyHeaders
{
    /// <summary>A custom property listing (comma-separated) the property names that HTTP re-cases, as sent.</summary>
    public const string NameCasing = "bus-property-names";

    private static readonly ConcurrentDictionary<string, string?> WireNames = new(StringComparer.Ordinal);

    /// <summary>Headers that belong to HTTP or to the REST protocol and are never custom properties.</summary>
    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "Authorization", "BrokerProperties", "Content-Type", "Content-Length", "Content-Encoding", "Host", "Date",
        "Server", "Location", "Transfer-Encoding", "Connection", "Keep-Alive", "Expect", "Upgrade", "TE", "Trailer",
        "Accept", "Accept-Encoding", "User-Agent", "Strict-Transport-Security", "Cache-Control", "Pragma", "Expires",
        "ETag", "Vary", "Retry-After", "Proxy-Authorization", "Cookie", "Set-Cookie", "If-Match", "ServiceBusSupplementaryAuthorization",
    };

    /// <summary>Whether <paramref name="name"/> can travel as a custom property header.</summary>
    public static bool IsUsableName(string name)
    {
        if (string.IsNullOrEmpty(name) || Reserved.Contains(name) || name.StartsWith("x-ms-", StringComparison.OrdinalIgnoreCase)
            || name.Equals(NameCasing, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        foreach (var c in name)
        {
            var token = c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' ||
                        "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal);
            if (!token)
            {
                return false;
            }
        }

        // Content headers (e.g. Allow, Content-Language) cannot travel as request or response headers of their own.
        return WireName(name) is not null;
    }

    /// <summary>The name as HttpClient carries it (the standard casing of a known header), or null when it cannot
    /// carry it as a request and a response header.</summary>
    public static string? WireName(string name) => WireNames.GetOrAdd(name, static n =>
    {
        using var request = new HttpRequestMessage();
        using var response = new HttpResponseMessage();
        if (!request.Headers.TryAddWithoutValidation(n, "\"x\"") || !response.Headers.TryAddWithoutValidation(n, "\"x\""))
        {
            return null;
        }

        return response.Headers.NonValidated.Select(h => h.Key).FirstOrDefault(k => k.Equals(n, StringComparison.OrdinalIgnoreCase));
    });

    /// <summary>The properties to send: <paramref name="properties"/> plus, when HTTP would re-case some names, a
    /// <see cref="NameCasing"/> property listing them as they are.</summary>
    public static IReadOnlyDictionary<string, string> WithNameCasing(IReadOnlyDictionary<string, string> properties)
    {
        var recased = properties.Keys.Where(name => WireName(name) is { } wire && !wire.Equals(name, StringComparison.Ordinal)).ToList();
        if (recased.Count == 0)
        {
            return properties;
        }

        return new Dictionary<string, string>(properties, StringComparer.Ordinal) { [NameCasing] = string.Join(",", recased) };
    }

    /// <summary>Gives received properties back the names listed in <see cref="NameCasing"/> and drops that list.</summary>
    public static void RestoreNameCasing(Dictionary<string, string> properties)
    {
        var key = properties.Keys.FirstOrDefault(k => k.Equals(NameCasing, StringComparison.OrdinalIgnoreCase));
        if (key is null)
        {
            return;
        }

        var names = properties[key].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        properties.Remove(key);
        foreach (var name in names)
        {
            var received = properties.Keys.FirstOrDefault(k => k.Equals(name, StringComparison.OrdinalIgnoreCase) && !k.Equals(name, StringComparison.Ordinal));
            if (received is not null && !properties.ContainsKey(name))
            {
                properties.Remove(received, out var value);
                properties[name] = value!;
            }
        }
    }

    /// <summary>Whether a response header can be a custom property (not an HTTP or protocol header).</summary>
    public static bool IsReserved(string name) => Reserved.Contains(name) || name.StartsWith("x-ms-", StringComparison.OrdinalIgnoreCase);

    /// <summary>The header form of a typed value: string (quoted), bool, Int64 or double.</summary>
    public static string Encode(object value) => value switch
    {
        string s => EncodeString(s),
        bool b => b ? "true" : "false",
        int i => i.ToString(CultureInfo.InvariantCulture),
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d when double.IsFinite(d) => EnsureNotInteger(d.ToString("R", CultureInfo.InvariantCulture)),
        _ => throw new ArgumentException($"A custom property can be a string, bool, Int64 or finite double, not {value.GetType().Name}.", nameof(value)),
    };

    /// <summary>A string as a JSON literal that is pure printable ASCII.</summary>
    public static string EncodeString(string value)
    {
        var builder = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"':
                    builder.Append("\\\"");
                    break;
                case '\\':
                    builder.Append("\\\\");
                    break;
                case >= ' ' and <= '~':
                    builder.Append(c);
                    break;
                default:
                    builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
            }
        }

        return builder.Append('"').ToString();
    }

    /// <summary>The typed value of a header: string, bool, long or double.</summary>
    public static object Decode(string raw)
    {
        var value = raw.Trim();
        if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
        {
            try
            {
                return JsonSerializer.Deserialize(value, RestJsonContextStrings.Default.String) ?? "";
            }
            catch (JsonException)
            {
                return value[1..^1];
            }
        }

        if (value is "true" or "True")
        {
            return true;
        }

        if (value is "false" or "False")
        {
            return false;
        }

        if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return integer;
        }

        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return number;
        }

        return value;
    }

    /// <summary>A decoded value as a bus header string.</summary>
    public static string ToHeaderString(object value) => value switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    /// <summary>Whether a raw header value has one of the typed forms a custom property takes.</summary>
    public static bool LooksTyped(string raw)
    {
        var value = raw.Trim();
        return (value.Length >= 2 && value[0] == '"' && value[^1] == '"') || Decode(value) is not string;
    }

    private static string EnsureNotInteger(string text) =>
        text.Contains('.', StringComparison.Ordinal) || text.Contains('E', StringComparison.Ordinal) || text.Contains('e', StringComparison.Ordinal)
            ? text
            : text + ".0";
}

/// <summary>Source-generated JSON for plain strings.</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class RestJsonContextStrings : System.Text.Json.Serialization.JsonSerializerContext;

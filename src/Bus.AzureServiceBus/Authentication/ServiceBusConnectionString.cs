namespace Bus.AzureServiceBus.Authentication;

/// <summary>The parts of a Service Bus connection string the transport uses.</summary>
internal sealed record ServiceBusConnectionString(Uri Endpoint, string? KeyName, string? Key, string? SharedAccessSignature)
{
    /// <summary>Parses <c>Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...</c> (or
    /// <c>SharedAccessSignature=...</c>); <c>EntityPath</c> and unknown parts are ignored.</summary>
    /// <exception cref="FormatException">A part is missing or malformed; the message names it.</exception>
    public static ServiceBusConnectionString Parse(string connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new FormatException("The Service Bus connection string is empty.");
        }

        var parts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var segment in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = segment.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new FormatException($"The Service Bus connection string has a part without 'name=value': '{Redact(segment)}'.");
            }

            parts[segment[..equals].Trim()] = segment[(equals + 1)..].Trim();
        }

        string? Get(string name) => parts.TryGetValue(name, out var v) && v.Length > 0 ? v : null;

        var endpointText = Get("Endpoint")
            ?? throw new FormatException("The Service Bus connection string is missing 'Endpoint' (e.g. Endpoint=sb://contoso.servicebus.windows.net/).");
        if (!Uri.TryCreate(endpointText, UriKind.Absolute, out var raw) || raw.Host.Length == 0)
        {
            throw new FormatException($"The Service Bus connection string's 'Endpoint' '{endpointText}' is not an absolute URI such as sb://contoso.servicebus.windows.net/.");
        }

        var builder = new UriBuilder(raw) { Path = "/", Query = "", Fragment = "" };
        if (raw.Scheme is "sb" or "amqps" or "amqp")
        {
            builder.Scheme = Uri.UriSchemeHttps;
            builder.Port = -1;
        }

        var signature = Get("SharedAccessSignature");
        var keyName = Get("SharedAccessKeyName");
        var key = Get("SharedAccessKey");
        if (signature is null)
        {
            if (keyName is null)
            {
                throw new FormatException("The Service Bus connection string is missing 'SharedAccessKeyName' (or give 'SharedAccessSignature').");
            }

            if (key is null)
            {
                throw new FormatException("The Service Bus connection string is missing 'SharedAccessKey' (or give 'SharedAccessSignature').");
            }
        }

        return new ServiceBusConnectionString(builder.Uri, keyName, key, signature);
    }

    private static string Redact(string segment) => segment.Length <= 12 ? segment : segment[..12] + "...";
}

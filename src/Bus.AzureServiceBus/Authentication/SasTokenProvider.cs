using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Bus.AzureServiceBus.Authentication;

/// <summary>Signs Shared Access Signature tokens with a key, caches them per resource and renews them well before expiry.</summary>
internal sealed class SasTokenProvider : IAuthorizationProvider
{
    /// <summary>How long a token is valid.</summary>
    public static readonly TimeSpan TokenLifetime = TimeSpan.FromHours(1);

    /// <summary>A token is replaced once less than this is left.</summary>
    public static readonly TimeSpan RenewBefore = TimeSpan.FromMinutes(5);

    private readonly string _keyName;
    private readonly byte[] _key;
    private readonly Uri _namespace;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, (string Token, DateTimeOffset ExpiresAt)> _cache = new(StringComparer.OrdinalIgnoreCase);

    public SasTokenProvider(string keyName, string key, Uri namespaceUri, TimeProvider time)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(keyName);
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        _keyName = keyName;
        _key = Encoding.UTF8.GetBytes(key);
        _namespace = namespaceUri;
        _time = time;
    }

    /// <summary>Tokens are scoped to the namespace, so one token serves every entity under it.</summary>
    public ValueTask<string> GetAuthorizationAsync(Uri resource, CancellationToken cancellationToken) =>
        ValueTask.FromResult(GetToken(_namespace.AbsoluteUri));

    /// <summary>A token for exactly the forwarding target, as the Service Bus SDKs send it.</summary>
    public ValueTask<string> GetSupplementaryAuthorizationAsync(Uri target, CancellationToken cancellationToken) =>
        ValueTask.FromResult(GetToken(target.AbsoluteUri));

    /// <summary>A token for exactly <paramref name="resourceUri"/> (e.g. a ForwardTo target's supplementary authorization).</summary>
    public string GetToken(string resourceUri)
    {
        var now = _time.GetUtcNow();
        if (_cache.TryGetValue(resourceUri, out var cached) && cached.ExpiresAt - now > RenewBefore)
        {
            return cached.Token;
        }

        var expiresAt = now + TokenLifetime;
        var token = CreateToken(resourceUri, _keyName, _key, expiresAt.ToUnixTimeSeconds());
        _cache[resourceUri] = (token, expiresAt);
        return token;
    }

    /// <summary>The documented SAS format: <c>SharedAccessSignature sr={enc(uri)}&amp;sig={enc(base64(HMACSHA256(enc(uri)\nexpiry)))}&amp;se={expiry}&amp;skn={keyName}</c>.</summary>
    public static string CreateToken(string resourceUri, string keyName, byte[] key, long expiryUnixSeconds)
    {
        var encodedUri = WebUtility.UrlEncode(resourceUri);
        var expiry = expiryUnixSeconds.ToString(CultureInfo.InvariantCulture);
        var signature = Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(encodedUri + "\n" + expiry)));
        return $"SharedAccessSignature sr={encodedUri}&sig={WebUtility.UrlEncode(signature)}&se={expiry}&skn={keyName}";
    }
}

using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Bus.AzureServiceBus.Authentication;
using Bus.Testing;

namespace Bus.AzureServiceBus.Tests.Unit;

public sealed class SasTokenProviderTests
{
    [Fact]
    public void Token_matches_the_documented_formula_for_a_fixed_key_and_expiry()
    {
        const string resource = "https://contoso.servicebus.windows.net/";
        const string keyName = "RootManageSharedAccessKey";
        const string key = "s3cr3t+/Key==";
        const long expiry = 1_767_571_200; // 2026-01-05 00:00:00 UTC

        // Computed here from the documented formula, independently of the provider.
        var encodedResource = "https%3A%2F%2Fcontoso.servicebus.windows.net%2F";
        var signature = Convert.ToBase64String(new HMACSHA256(Encoding.UTF8.GetBytes(key)).ComputeHash(Encoding.UTF8.GetBytes(encodedResource + "\n" + expiry)));
        var encodedSignature = Uri.EscapeDataString(signature);
        var expected = $"SharedAccessSignature sr={encodedResource}&sig={encodedSignature}&se={expiry}&skn={keyName}";

        var token = SasTokenProvider.CreateToken(resource, keyName, Encoding.UTF8.GetBytes(key), expiry);

        Assert.Equal(expected, token);
        Assert.Matches(new Regex("^SharedAccessSignature sr=[^&]+&sig=[^&]+&se=[0-9]+&skn=[^&]+$"), token);

        // The same token computed outside .NET (Python's hmac, base64 and urllib.parse.quote), pinned as a known value.
        Assert.Equal(
            "SharedAccessSignature sr=https%3A%2F%2Fcontoso.servicebus.windows.net%2F&sig=PAsLkKvHL4wmlWUyM96UlPyMVmxmT11aJVjncxA%2FMRg%3D&se=1767571200&skn=RootManageSharedAccessKey",
            token);
    }

    [Fact]
    public void Key_is_used_as_utf8_bytes_not_base64_decoded()
    {
        const string key = "AAAA"; // valid base64 too: decoding it would give a different HMAC key
        var asUtf8 = SasTokenProvider.CreateToken("https://a/", "k", Encoding.UTF8.GetBytes(key), 100);
        var asBase64 = SasTokenProvider.CreateToken("https://a/", "k", Convert.FromBase64String(key), 100);

        Assert.NotEqual(asBase64, asUtf8);
    }

    [Fact]
    public async Task Tokens_are_cached_and_renewed_before_they_expire()
    {
        var time = new ManualTimeProvider();
        var provider = new SasTokenProvider("k", "key", new Uri("https://contoso.servicebus.windows.net/"), time);
        var resource = new Uri("https://contoso.servicebus.windows.net/orders/messages");

        var first = await provider.GetAuthorizationAsync(resource, default);
        time.Advance(TimeSpan.FromMinutes(50));
        var cached = await provider.GetAuthorizationAsync(resource, default);
        time.Advance(TimeSpan.FromMinutes(6)); // 4 minutes left: inside the renewal margin
        var renewed = await provider.GetAuthorizationAsync(resource, default);

        Assert.Same(first, cached);
        Assert.NotEqual(first, renewed);
        var expiry = long.Parse(Regex.Match(renewed, "se=([0-9]+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal((time.GetUtcNow() + SasTokenProvider.TokenLifetime).ToUnixTimeSeconds(), expiry);
        Assert.Contains("sr=https%3A%2F%2Fcontoso.servicebus.windows.net%2F&", renewed, StringComparison.Ordinal);
    }
}

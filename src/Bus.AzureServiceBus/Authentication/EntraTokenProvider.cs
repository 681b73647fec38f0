using Azure.Core;

namespace Bus.AzureServiceBus.Authentication;

/// <summary>Bearer tokens from an Entra ID <see cref="TokenCredential"/> for the Service Bus scope, cached until shortly
/// before they expire.</summary>
internal sealed class EntraTokenProvider(TokenCredential credential, TimeProvider time) : IAuthorizationProvider
{
    /// <summary>The scope Service Bus tokens are requested for.</summary>
    public const string Scope = "https://servicebus.azure.net/.default";

    private static readonly TimeSpan RenewBefore = TimeSpan.FromMinutes(5);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private AccessToken? _token;

    public async ValueTask<string> GetAuthorizationAsync(Uri resource, CancellationToken cancellationToken)
    {
        if (Current() is { } cached)
        {
            return cached;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Current() is { } again)
            {
                return again;
            }

            _token = await credential.GetTokenAsync(new TokenRequestContext([Scope]), cancellationToken).ConfigureAwait(false);
            return "Bearer " + _token.Value.Token;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The same bearer token (for the Service Bus scope, not the target): Service Bus checks the identity's
    /// rights on the target, as it does for the SDKs' <c>Bearer</c> supplementary authorization.</summary>
    public ValueTask<string> GetSupplementaryAuthorizationAsync(Uri target, CancellationToken cancellationToken) =>
        GetAuthorizationAsync(target, cancellationToken);

    private string? Current() =>
        _token is { } token && token.ExpiresOn - time.GetUtcNow() > RenewBefore ? "Bearer " + token.Token : null;
}

namespace Bus.AzureServiceBus.Authentication;

/// <summary>Uses a ready-made Shared Access Signature from the connection string as is (it cannot be renewed).</summary>
internal sealed class FixedSignatureProvider(string signature) : IAuthorizationProvider
{
    private readonly string _header = signature.StartsWith("SharedAccessSignature ", StringComparison.Ordinal)
        ? signature
        : "SharedAccessSignature " + signature;

    public ValueTask<string> GetAuthorizationAsync(Uri resource, CancellationToken cancellationToken) => ValueTask.FromResult(_header);
}

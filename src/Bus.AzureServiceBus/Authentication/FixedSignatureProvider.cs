namespace Bus.AzureServiceBus.Authentication;

/// <summary>Uses a ready-made Shared Access Signature from the connection string as is (it cannot be renewed).</summary>
internal sealed class FixedSignatureProvider(string signature) : IAuthorizationProvider
{
    private readonly string _header = signature.StartsWith("SharedAccessSignature ", StringComparison.Ordinal)
        ? signature
        : "SharedAccessSignature " + signature;

    public ValueTask<string> GetAuthorizationAsync(Uri resource, CancellationToken cancellationToken) => ValueTask.FromResult(_header);

    /// <summary>The same signature: it is usually scoped to the namespace, which covers the forwarding target too.</summary>
    public ValueTask<string> GetSupplementaryAuthorizationAsync(Uri target, CancellationToken cancellationToken) => ValueTask.FromResult(_header);
}

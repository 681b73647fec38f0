namespace Bus.AzureServiceBus.Authentication;

/// <summary>Produces the <c>Authorization</c> header value for a request to a Service Bus resource.</summary>
internal interface IAuthorizationProvider
{
    /// <summary>The header value, e.g. <c>SharedAccessSignature sr=...</c> or <c>Bearer ...</c>, for <paramref name="resource"/>.</summary>
    ValueTask<string> GetAuthorizationAsync(Uri resource, CancellationToken cancellationToken);
}

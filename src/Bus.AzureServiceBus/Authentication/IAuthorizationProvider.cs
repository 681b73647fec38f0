namespace Bus.AzureServiceBus.Authentication;

/// <summary>Produces the <c>Authorization</c> header value for a request to a Service Bus resource.</summary>
internal interface IAuthorizationProvider
{
    /// <summary>The header value, e.g. <c>SharedAccessSignature sr=...</c> or <c>Bearer ...</c>, for <paramref name="resource"/>.</summary>
    ValueTask<string> GetAuthorizationAsync(Uri resource, CancellationToken cancellationToken);

    /// <summary>The value of a <c>ServiceBusSupplementaryAuthorization</c> (or <c>ServiceBusDlqSupplementaryAuthorization</c>)
    /// header: proof of rights on <paramref name="target"/>, the entity a queue or subscription forwards to, which
    /// Service Bus asks for when such an entity is created or updated. A SAS token for the target, or <c>Bearer ...</c>.</summary>
    ValueTask<string> GetSupplementaryAuthorizationAsync(Uri target, CancellationToken cancellationToken);
}

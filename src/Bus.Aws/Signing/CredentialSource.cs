using Amazon.Runtime;
using Amazon.Runtime.Credentials;

namespace Bus.Aws.Signing;

/// <summary>Where signing credentials come from.</summary>
internal interface ICredentialSource
{
    /// <summary>Current credentials (refreshed by the underlying provider when they are temporary).</summary>
    ValueTask<AwsCredentials> GetAsync(CancellationToken cancellationToken);
}

/// <summary>Fixed credentials given in the options.</summary>
internal sealed class StaticCredentialSource(AwsCredentials credentials) : ICredentialSource
{
    public ValueTask<AwsCredentials> GetAsync(CancellationToken cancellationToken) => ValueTask.FromResult(credentials);
}

/// <summary>Credentials from an AWSSDK.Core <see cref="AWSCredentials"/> (the default chain when none is given:
/// environment, web identity, profile, container and instance metadata).</summary>
internal sealed class SdkCredentialSource(AWSCredentials? credentials) : ICredentialSource
{
    private readonly Lazy<AWSCredentials> _credentials = new(() => credentials ?? DefaultAWSCredentialsIdentityResolver.GetCredentials());

    public async ValueTask<AwsCredentials> GetAsync(CancellationToken cancellationToken)
    {
        var resolved = await _credentials.Value.GetCredentialsAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return new AwsCredentials(resolved.AccessKey, resolved.SecretKey, resolved.UseToken ? resolved.Token : null);
    }
}

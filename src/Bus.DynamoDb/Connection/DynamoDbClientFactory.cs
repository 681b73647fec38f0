using Amazon;
using Amazon.DynamoDBv2;
using Amazon.Extensions.NETCore.Setup;
using Amazon.Runtime;
using Amazon.Runtime.Credentials;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.DynamoDb.Connection;

/// <summary>The DynamoDB client of the stores: the options' <see cref="DynamoDbStoreOptions.Client"/>, else one
/// registered in dependency injection, else one built from the options (region, endpoint, credentials).</summary>
internal static class DynamoDbClientFactory
{
    /// <summary>Resolves or builds the client; <c>owned</c> is true when it was built here (the caller disposes it).</summary>
    public static (IAmazonDynamoDB Client, bool Owned) Create(DynamoDbStoreOptions options, IServiceProvider? services)
    {
        if ((options.Client ?? services?.GetService<IAmazonDynamoDB>()) is { } given)
        {
            return (given, false);
        }

        var awsOptions = services?.GetService<AWSOptions>();
        var region = options.Region
            ?? Environment.GetEnvironmentVariable("AWS_REGION")
            ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION")
            ?? awsOptions?.Region?.SystemName
            ?? (options.ServiceUrl is not null ? "us-east-1" : null)
            ?? throw new ArgumentException(
                "DynamoDbStoreOptions.Region is required: set it or the AWS_REGION environment variable, or register an IAmazonDynamoDB " +
                "(services.AddAWSService<IAmazonDynamoDB>()) or set DynamoDbStoreOptions.Client.", nameof(options));
        var config = new AmazonDynamoDBConfig();
        if (options.ServiceUrl is { } url)
        {
            config.ServiceURL = url.ToString();
            config.AuthenticationRegion = region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
        }

        return (new AmazonDynamoDBClient(Credentials(options, awsOptions), config), true);
    }

    private static AWSCredentials Credentials(DynamoDbStoreOptions options, AWSOptions? awsOptions)
    {
        if (options.Credentials is { } explicitCredentials)
        {
            return explicitCredentials;
        }

        if (options.AccessKeyId is { } key)
        {
            return options.SessionToken is { } token
                ? new SessionAWSCredentials(key, options.SecretAccessKey!, token)
                : new BasicAWSCredentials(key, options.SecretAccessKey!);
        }

        return awsOptions?.Credentials ?? DefaultAWSCredentialsIdentityResolver.GetCredentials();
    }
}

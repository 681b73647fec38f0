using Amazon.DynamoDBv2;
using Amazon.Runtime;

namespace Bus.DynamoDb.Tests;

/// <summary>Settings for tests against the local dynalite peer (env BUS_DYNAMODB_ENDPOINT, default
/// http://127.0.0.1:4567; started by build/start-dynalite.sh).</summary>
internal static class Dynalite
{
    public static Uri Endpoint { get; } = new(Environment.GetEnvironmentVariable("BUS_DYNAMODB_ENDPOINT") is { Length: > 0 } e ? e : "http://127.0.0.1:4567");

    /// <summary>A client on dynalite with static credentials.</summary>
    public static IAmazonDynamoDB Client() => new AmazonDynamoDBClient(
        new BasicAWSCredentials("test", "test"),
        new AmazonDynamoDBConfig { ServiceURL = Endpoint.ToString(), AuthenticationRegion = "us-east-1" });

    /// <summary>Options on dynalite with a table prefix unique to the caller.</summary>
    public static DynamoDbStoreOptions Options(string prefix, Action<DynamoDbStoreOptions>? configure = null)
    {
        var options = Configure(new DynamoDbStoreOptions(), prefix);
        configure?.Invoke(options);
        return options;
    }

    /// <summary>Points <paramref name="options"/> at dynalite (static credentials) with the table prefix.</summary>
    public static DynamoDbStoreOptions Configure(DynamoDbStoreOptions options, string prefix)
    {
        options.ServiceUrl = Endpoint;
        options.Region = "us-east-1";
        options.AccessKeyId = "test";
        options.SecretAccessKey = "test";
        options.TableNamePrefix = prefix;
        return options;
    }

    /// <summary>A table prefix no other test uses.</summary>
    public static string UniquePrefix(string hint) => $"{hint}-{Guid.NewGuid():N}-"[..(hint.Length + 14)];
}

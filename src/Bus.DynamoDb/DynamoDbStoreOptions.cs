using Amazon.DynamoDBv2;
using Amazon.Runtime;

namespace Bus.DynamoDb;

/// <summary>What a store does with its table at first use and at start-up.</summary>
public enum DynamoDbProvisioning
{
    /// <summary>Create a missing table (on-demand capacity) and enable its time to live; leave an existing one as it is.</summary>
    CreateIfMissing,

    /// <summary>Only check that the tables exist with the right keys (and TTL when used); a start-up error lists
    /// everything missing, for infrastructure-as-code deployments where the application may not create tables.</summary>
    VerifyOnly,
}

/// <summary>Settings of the DynamoDB workflow, step and job status stores: where DynamoDB is, how to sign in, which tables.</summary>
public sealed class DynamoDbStoreOptions
{
    /// <summary>The AWS region, e.g. "eu-west-1". Null: AWS_REGION or AWS_DEFAULT_REGION, else the region of the
    /// <c>AWSOptions</c> in dependency injection, else "us-east-1" when <see cref="ServiceUrl"/> points at a local peer.
    /// Not used when the client comes from <see cref="Client"/> or dependency injection.</summary>
    public string? Region { get; set; }

    /// <summary>DynamoDB endpoint override, e.g. dynalite at http://127.0.0.1:4567. Null: the region's endpoint. Like
    /// the region and credentials, only used for a client the store builds (none in <see cref="Client"/> or DI).</summary>
    public Uri? ServiceUrl { get; set; }

    /// <summary>An explicit access key id (with <see cref="SecretAccessKey"/>). Null: the AWS default credential chain.</summary>
    public string? AccessKeyId { get; set; }

    /// <summary>The secret access key that goes with <see cref="AccessKeyId"/>.</summary>
    public string? SecretAccessKey { get; set; }

    /// <summary>The session token of temporary credentials, with <see cref="AccessKeyId"/>.</summary>
    public string? SessionToken { get; set; }

    /// <summary>Credentials from AWSSDK.Core (e.g. an assume-role provider); take precedence over the explicit keys.
    /// Null (and no keys): the credentials of the <c>AWSOptions</c> in dependency injection, else the SDK's default
    /// chain (environment, SSO and profiles, web identity, ECS task role, EC2 instance metadata).</summary>
    public AWSCredentials? Credentials { get; set; }

    /// <summary>The DynamoDB client to use. Null: an <see cref="IAmazonDynamoDB"/> registered in dependency injection
    /// (<c>services.AddAWSService&lt;IAmazonDynamoDB&gt;()</c>) when there is one, else a client built from these
    /// options. A given client is used as it is and not disposed by the stores.</summary>
    public IAmazonDynamoDB? Client { get; set; }

    /// <summary>Prefix of the table names (<c>{prefix}workflows</c>, <c>{prefix}steps</c>, <c>{prefix}jobs</c>,
    /// <c>{prefix}schedules</c>). Default "bus-".</summary>
    public string TableNamePrefix { get; set; } = "bus-";

    /// <summary>Create missing tables, or only verify them. Default <see cref="DynamoDbProvisioning.CreateIfMissing"/>.</summary>
    public DynamoDbProvisioning Provisioning { get; set; } = DynamoDbProvisioning.CreateIfMissing;

    /// <summary>When set, every step item carries a DynamoDB time-to-live attribute (<c>expiresAt</c>) this long after
    /// the step finished, and provisioning enables TTL on the steps table, so DynamoDB deletes old steps by itself at
    /// no write cost. TTL expires items one by one, so set it well above the longest job's run time plus
    /// <c>bus.StepRetention</c>; the bus's retention (<see cref="Bus.Steps.IStepStore.DeleteJobsFinishedBeforeAsync"/>)
    /// still deletes whole jobs exactly. Null (default): no TTL attribute.</summary>
    public TimeSpan? StepTimeToLive { get; set; }

    /// <summary>The name of the workflows table.</summary>
    public string WorkflowTableName => TableNamePrefix + "workflows";

    /// <summary>The name of the steps table.</summary>
    public string StepTableName => TableNamePrefix + "steps";

    /// <summary>The name of the job status table.</summary>
    public string JobTableName => TableNamePrefix + "jobs";

    /// <summary>The name of the schedules table.</summary>
    public string ScheduleTableName => TableNamePrefix + "schedules";

    /// <summary>A copy of these options.</summary>
    public DynamoDbStoreOptions Clone() => (DynamoDbStoreOptions)MemberwiseClone();

    /// <summary>Checks every setting and throws an error that says what to change.</summary>
    /// <exception cref="ArgumentException">A setting is invalid.</exception>
    public void Validate()
    {
        if (Region is { } region && (region.Length == 0 || !region.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')))
        {
            throw new ArgumentException($"DynamoDbStoreOptions.Region '{region}' is not a region name like 'eu-west-1'; set one, or leave it null for AWS_REGION.", nameof(Region));
        }

        if (ServiceUrl is { } url && (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)))
        {
            throw new ArgumentException($"DynamoDbStoreOptions.ServiceUrl '{url}' must be an absolute http or https URL such as http://127.0.0.1:4567, or null for the region's endpoint.", nameof(ServiceUrl));
        }

        if (Credentials is null && (AccessKeyId is null) != (SecretAccessKey is null))
        {
            throw new ArgumentException("DynamoDbStoreOptions.AccessKeyId and SecretAccessKey must be set together (or neither, for the default credential chain).", nameof(AccessKeyId));
        }

        if (Credentials is null && SessionToken is not null && AccessKeyId is null)
        {
            throw new ArgumentException("DynamoDbStoreOptions.SessionToken needs AccessKeyId and SecretAccessKey.", nameof(SessionToken));
        }

        if (TableNamePrefix is null || TableNamePrefix.Length > 200 || !TableNamePrefix.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            throw new ArgumentException($"DynamoDbStoreOptions.TableNamePrefix '{TableNamePrefix}' may hold at most 200 letters, digits, '-', '_' and '.' (DynamoDB table names); use \"\" for none.", nameof(TableNamePrefix));
        }

        if (!Enum.IsDefined(Provisioning))
        {
            throw new ArgumentOutOfRangeException(nameof(Provisioning), Provisioning, "DynamoDbStoreOptions.Provisioning must be CreateIfMissing or VerifyOnly.");
        }

        if (StepTimeToLive is { } ttl && ttl < TimeSpan.FromHours(1))
        {
            throw new ArgumentOutOfRangeException(nameof(StepTimeToLive), ttl, "DynamoDbStoreOptions.StepTimeToLive must be at least 1 hour (well above the longest job plus bus.StepRetention), or null for no TTL.");
        }
    }
}

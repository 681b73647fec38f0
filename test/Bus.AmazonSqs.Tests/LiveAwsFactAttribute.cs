namespace Bus.AmazonSqs.Tests;

/// <summary>A fact that runs against real AWS only when BUS_SQS_LIVE=1 and credentials are configured.</summary>
public sealed class LiveAwsFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> with the reason when live tests are not enabled.</summary>
    public LiveAwsFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("BUS_SQS_LIVE") != "1")
        {
            Skip = "Live AWS tests run only with BUS_SQS_LIVE=1 (and AWS credentials and region in the environment).";
        }
        else if (Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID") is null && Environment.GetEnvironmentVariable("AWS_PROFILE") is null
                 && Environment.GetEnvironmentVariable("AWS_WEB_IDENTITY_TOKEN_FILE") is null)
        {
            Skip = "BUS_SQS_LIVE=1 but no AWS credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE or AWS_WEB_IDENTITY_TOKEN_FILE) are set.";
        }
    }
}

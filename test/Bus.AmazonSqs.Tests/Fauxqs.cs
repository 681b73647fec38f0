using Bus.AmazonSqs;

namespace Bus.AmazonSqs.Tests;

/// <summary>Settings for tests against the local fauxqs peer (env BUS_SQS_ENDPOINT, default http://127.0.0.1:4566).</summary>
internal static class Fauxqs
{
    public static Uri Endpoint { get; } = new(Environment.GetEnvironmentVariable("BUS_SQS_ENDPOINT") is { Length: > 0 } e ? e : "http://127.0.0.1:4566");

    /// <summary>Options pointing at fauxqs with static credentials and 1-second long polls.</summary>
    public static SqsTransportOptions Options(Action<SqsTransportOptions>? configure = null)
    {
        var options = new SqsTransportOptions
        {
            Region = "us-east-1",
            ServiceUrl = Endpoint,
            AccessKeyId = "test",
            SecretAccessKey = "test",
            WaitTime = TimeSpan.FromSeconds(1),
            QueueNamePrefix = "bt-",
        };
        configure?.Invoke(options);
        return options;
    }

    public static string UniqueName(string hint) => $"{hint}-{Guid.NewGuid():N}"[..(hint.Length + 13)];
}

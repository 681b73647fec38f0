using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;
using Bus.AmazonSqs.Http;
using Bus.Aws.Signing;
using Bus.AmazonSqs.Sns;
using Bus.Transports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Bus.AmazonSqs.Tests;

/// <summary>Settings for tests against the local fauxqs peer (env BUS_SQS_ENDPOINT, default http://127.0.0.1:4566).</summary>
internal static class Fauxqs
{
    public static Uri Endpoint { get; } = new(Environment.GetEnvironmentVariable("BUS_SQS_ENDPOINT") is { Length: > 0 } e ? e : "http://127.0.0.1:4566");

    /// <summary>Options pointing at fauxqs with static credentials and 1-second long polls.</summary>
    public static SqsTransportOptions Options(Action<SqsTransportOptions>? configure = null)
    {
        var options = Configure(new SqsTransportOptions());
        configure?.Invoke(options);
        return options;
    }

    /// <summary>Points <paramref name="options"/> at fauxqs (static credentials, 1-second long polls, prefix "bt-").</summary>
    public static SqsTransportOptions Configure(SqsTransportOptions options)
    {
        options.Region = "us-east-1";
        options.ServiceUrl = Endpoint;
        options.AccessKeyId = "test";
        options.SecretAccessKey = "test";
        options.WaitTime = TimeSpan.FromSeconds(1);
        options.QueueNamePrefix = "bt-";
        return options;
    }

    /// <summary>A bare SDK SQS client on fauxqs, to look behind the transport.</summary>
    public static RawSqs RawSqs() => new(new AmazonSQSClient(
        new BasicAWSCredentials("test", "test"),
        new AmazonSQSConfig { ServiceURL = Endpoint.ToString(), AuthenticationRegion = "us-east-1" }));

    /// <summary>A bare SNS client on fauxqs.</summary>
    public static SnsQueryClient RawSns() => new(Channel("sns"));

    private static AwsHttpChannel Channel(string service) => new(
        service, Endpoint, "us-east-1", new StaticCredentialSource(new AwsCredentials("test", "test")), SharedHttp,
        new RetrySettings(2, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30)), TimeProvider.System, NullLogger.Instance);

    private static readonly HttpClient SharedHttp = new() { Timeout = TimeSpan.FromMinutes(1) };

    public static string UniqueName(string hint) => $"{hint}-{Guid.NewGuid():N}"[..(hint.Length + 13)];

    /// <summary>Receives one message from <paramref name="queue"/>, polling up to ten times.</summary>
    public static async Task<IReceivedMessage> ReceiveOneAsync(ITransport transport, string queue)
    {
        for (var i = 0; i < 10; i++)
        {
            if ((await transport.ReceiveAsync(queue, 1, TimeSpan.FromSeconds(30), default)) is [var received])
            {
                return received;
            }
        }

        throw new Xunit.Sdk.XunitException($"Nothing arrived in '{queue}'.");
    }

    /// <summary>A transport message with a fresh id, <paramref name="body"/> and <paramref name="headers"/>.</summary>
    public static TransportMessage Message(string body, params (string Name, string Value)[] headers)
    {
        var all = new Dictionary<string, string> { [MessageHeaders.MessageId] = Guid.NewGuid().ToString() };
        foreach (var (name, value) in headers)
        {
            all[name] = value;
        }

        return new TransportMessage(all, System.Text.Encoding.UTF8.GetBytes(body));
    }
}

/// <summary>The few SQS calls tests make behind the transport's back, on the SDK client, in short form.</summary>
internal sealed class RawSqs(IAmazonSQS sqs)
{
    public async Task<string?> GetQueueUrlAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            return (await sqs.GetQueueUrlAsync(new GetQueueUrlRequest { QueueName = name }, cancellationToken)).QueueUrl;
        }
        catch (QueueDoesNotExistException)
        {
            return null;
        }
    }

    public async Task<Dictionary<string, string>> GetQueueAttributesAsync(string url, List<string> names, CancellationToken cancellationToken) =>
        (await sqs.GetQueueAttributesAsync(new GetQueueAttributesRequest { QueueUrl = url, AttributeNames = names }, cancellationToken)).Attributes ?? [];

    public Task SetQueueAttributesAsync(string url, Dictionary<string, string> attributes, CancellationToken cancellationToken) =>
        sqs.SetQueueAttributesAsync(new SetQueueAttributesRequest { QueueUrl = url, Attributes = attributes }, cancellationToken);

    public async Task<List<Message>> ReceiveMessageAsync(string url, int max, int waitSeconds, int visibilitySeconds, CancellationToken cancellationToken) =>
        (await sqs.ReceiveMessageAsync(new ReceiveMessageRequest
        {
            QueueUrl = url,
            MaxNumberOfMessages = max,
            WaitTimeSeconds = waitSeconds,
            VisibilityTimeout = visibilitySeconds,
            MessageAttributeNames = ["All"],
            MessageSystemAttributeNames = ["All"],
        }, cancellationToken)).Messages ?? [];

    public Task<SendMessageBatchResponse> SendMessageBatchAsync(string url, List<SendMessageBatchRequestEntry> entries, CancellationToken cancellationToken) =>
        sqs.SendMessageBatchAsync(new SendMessageBatchRequest { QueueUrl = url, Entries = entries }, cancellationToken);

    public Task<DeleteMessageBatchResponse> DeleteMessageBatchAsync(string url, List<DeleteMessageBatchRequestEntry> entries, CancellationToken cancellationToken) =>
        sqs.DeleteMessageBatchAsync(new DeleteMessageBatchRequest { QueueUrl = url, Entries = entries }, cancellationToken);
}

using Amazon.SQS;
using Amazon.SQS.Model;

namespace Bus.AmazonSqs.Sqs;

/// <summary>ReceiveMessage as the transport asks it: with the receive count, sent time and every message attribute.</summary>
internal static class SqsReceive
{
    private static readonly List<string> SystemAttributes = ["ApproximateReceiveCount", "SentTimestamp", "ApproximateFirstReceiveTimestamp"];

    /// <summary>Receives up to <paramref name="maxMessages"/> (at most 10) messages, waiting up to
    /// <paramref name="waitSeconds"/>, each hidden for <paramref name="visibilitySeconds"/>.</summary>
    public static async Task<List<Message>> ReceiveAsync(
        this IAmazonSQS sqs, string queueUrl, int maxMessages, int waitSeconds, int visibilitySeconds, CancellationToken cancellationToken)
    {
        var response = await sqs.ReceiveMessageAsync(new ReceiveMessageRequest
        {
            QueueUrl = queueUrl,
            MaxNumberOfMessages = Math.Min(maxMessages, 10),
            WaitTimeSeconds = waitSeconds,
            VisibilityTimeout = visibilitySeconds,
            MessageSystemAttributeNames = SystemAttributes,
            MessageAttributeNames = ["All"],
        }, cancellationToken).ConfigureAwait(false);
        return response.Messages ?? [];
    }
}

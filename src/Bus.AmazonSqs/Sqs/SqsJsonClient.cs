using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Bus.AmazonSqs.Http;

namespace Bus.AmazonSqs.Sqs;

/// <summary>SQS over the AWS JSON 1.0 protocol: POST to the endpoint with <c>X-Amz-Target: AmazonSQS.&lt;Operation&gt;</c>.</summary>
internal sealed class SqsJsonClient(AwsHttpChannel channel) : ISqsClient
{
    private const string ContentType = "application/x-amz-json-1.0";
    private static readonly List<string> AllAttributes = ["All"];
    private static readonly List<string> ReceiveSystemAttributes = ["ApproximateReceiveCount", "SentTimestamp", "ApproximateFirstReceiveTimestamp"];

    public async Task<string> CreateQueueAsync(string name, IReadOnlyDictionary<string, string> attributes, CancellationToken cancellationToken)
    {
        var request = new CreateQueueRequest { QueueName = name, Attributes = attributes.Count == 0 ? null : new(attributes) };
        var response = await CallAsync("CreateQueue", request, SqsJsonContext.Default.CreateQueueRequest, SqsJsonContext.Default.QueueUrlResponse, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        return response.QueueUrl ?? throw Malformed("CreateQueue", "QueueUrl");
    }

    public async Task<string?> GetQueueUrlAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            var response = await CallAsync("GetQueueUrl", new QueueNameRequest { QueueName = name }, SqsJsonContext.Default.QueueNameRequest, SqsJsonContext.Default.QueueUrlResponse, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            return response.QueueUrl ?? throw Malformed("GetQueueUrl", "QueueUrl");
        }
        catch (AmazonSqsException e) when (IsQueueMissing(e.Code))
        {
            return null;
        }
    }

    public async Task<IReadOnlyDictionary<string, string>> GetQueueAttributesAsync(string queueUrl, IReadOnlyList<string> names, CancellationToken cancellationToken)
    {
        var request = new GetQueueAttributesRequest { QueueUrl = queueUrl, AttributeNames = names.Count == 0 ? AllAttributes : [.. names] };
        var response = await CallAsync("GetQueueAttributes", request, SqsJsonContext.Default.GetQueueAttributesRequest, SqsJsonContext.Default.AttributesResponse, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        return response.Attributes ?? [];
    }

    public Task SetQueueAttributesAsync(string queueUrl, IReadOnlyDictionary<string, string> attributes, CancellationToken cancellationToken) =>
        CallAsync("SetQueueAttributes", new SetQueueAttributesRequest { QueueUrl = queueUrl, Attributes = new(attributes) },
            SqsJsonContext.Default.SetQueueAttributesRequest, SqsJsonContext.Default.EmptyResponse, TimeSpan.Zero, cancellationToken);

    public Task<BatchResponse> SendMessageBatchAsync(string queueUrl, IReadOnlyList<SendMessageBatchEntry> entries, CancellationToken cancellationToken) =>
        CallAsync("SendMessageBatch", new SendMessageBatchRequest { QueueUrl = queueUrl, Entries = [.. entries] },
            SqsJsonContext.Default.SendMessageBatchRequest, SqsJsonContext.Default.BatchResponse, TimeSpan.Zero, cancellationToken);

    public async Task<IReadOnlyList<SqsMessage>> ReceiveMessageAsync(
        string queueUrl, int maxMessages, int waitTimeSeconds, int visibilityTimeoutSeconds, CancellationToken cancellationToken)
    {
        var request = new ReceiveMessageRequest
        {
            QueueUrl = queueUrl,
            MaxNumberOfMessages = maxMessages,
            WaitTimeSeconds = waitTimeSeconds,
            VisibilityTimeout = visibilityTimeoutSeconds,
            MessageSystemAttributeNames = ReceiveSystemAttributes,
            MessageAttributeNames = AllAttributes,
        };
        var response = await CallAsync("ReceiveMessage", request, SqsJsonContext.Default.ReceiveMessageRequest, SqsJsonContext.Default.ReceiveMessageResponse,
            TimeSpan.FromSeconds(waitTimeSeconds), cancellationToken).ConfigureAwait(false);
        return response.Messages ?? [];
    }

    public Task<BatchResponse> DeleteMessageBatchAsync(string queueUrl, IReadOnlyList<ReceiptEntry> entries, CancellationToken cancellationToken) =>
        CallAsync("DeleteMessageBatch", new ReceiptBatchRequest { QueueUrl = queueUrl, Entries = [.. entries] },
            SqsJsonContext.Default.ReceiptBatchRequest, SqsJsonContext.Default.BatchResponse, TimeSpan.Zero, cancellationToken);

    public Task ChangeMessageVisibilityAsync(string queueUrl, string receiptHandle, int visibilityTimeoutSeconds, CancellationToken cancellationToken) =>
        CallAsync("ChangeMessageVisibility", new ChangeVisibilityRequest { QueueUrl = queueUrl, ReceiptHandle = receiptHandle, VisibilityTimeout = visibilityTimeoutSeconds },
            SqsJsonContext.Default.ChangeVisibilityRequest, SqsJsonContext.Default.EmptyResponse, TimeSpan.Zero, cancellationToken);

    public Task<BatchResponse> ChangeMessageVisibilityBatchAsync(string queueUrl, IReadOnlyList<ReceiptEntry> entries, CancellationToken cancellationToken) =>
        CallAsync("ChangeMessageVisibilityBatch", new ReceiptBatchRequest { QueueUrl = queueUrl, Entries = [.. entries] },
            SqsJsonContext.Default.ReceiptBatchRequest, SqsJsonContext.Default.BatchResponse, TimeSpan.Zero, cancellationToken);

    public async Task<string> StartMessageMoveTaskAsync(string sourceArn, string? destinationArn, CancellationToken cancellationToken)
    {
        var response = await CallAsync("StartMessageMoveTask", new StartMessageMoveTaskRequest { SourceArn = sourceArn, DestinationArn = destinationArn },
            SqsJsonContext.Default.StartMessageMoveTaskRequest, SqsJsonContext.Default.StartMessageMoveTaskResponse, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        return response.TaskHandle ?? string.Empty;
    }

    /// <summary>Whether an error code means the queue does not exist.</summary>
    internal static bool IsQueueMissing(string code) =>
        code is "QueueDoesNotExist" or "AWS.SimpleQueueService.NonExistentQueue" or "NonExistentQueue";

    /// <summary>Reads the code (the part of <c>__type</c> after '#', or the query error code) and message.</summary>
    internal static AwsError ParseError(AwsResponse response)
    {
        string? code = null;
        string? message = null;
        try
        {
            var error = JsonSerializer.Deserialize(response.Body, SqsJsonContext.Default.SqsErrorResponse);
            if (error?.Type is { } type)
            {
                var hash = type.LastIndexOf('#');
                code = hash >= 0 ? type[(hash + 1)..] : type;
            }

            message = error?.LowerMessage ?? error?.Message;
        }
        catch (JsonException)
        {
            message = Encoding.UTF8.GetString(response.Body);
        }

        if (string.IsNullOrEmpty(code) && response.QueryError is { } queryError)
        {
            var semicolon = queryError.IndexOf(';', StringComparison.Ordinal);
            code = semicolon >= 0 ? queryError[..semicolon] : queryError;
        }

        return new AwsError(string.IsNullOrEmpty(code) ? $"Http{(int)response.StatusCode}" : code, message ?? "(no message)");
    }

    private async Task<TResponse> CallAsync<TRequest, TResponse>(
        string operation, TRequest request, JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TResponse> responseType,
        TimeSpan longPoll, CancellationToken cancellationToken)
        where TResponse : class, new()
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(request, requestType);
        var body = await channel.SendAsync(operation, payload, ContentType, "AmazonSQS." + operation, ParseError, longPoll, cancellationToken).ConfigureAwait(false);
        if (body.Length == 0)
        {
            return new TResponse();
        }

        try
        {
            return JsonSerializer.Deserialize(body, responseType) ?? new TResponse();
        }
        catch (JsonException e)
        {
            throw new AmazonSqsException("sqs", operation, "MalformedResponse", e.Message, null, e);
        }
    }

    private static AmazonSqsException Malformed(string operation, string member) =>
        new("sqs", operation, "MalformedResponse", $"The response has no {member}.", null);
}

using System.Text.Json.Serialization;

namespace Bus.AmazonSqs.Sqs;

#pragma warning disable CA1812 // instantiated by System.Text.Json

/// <summary>A String message attribute (the only type the transport writes).</summary>
internal sealed class SqsAttributeValue
{
    public string DataType { get; set; } = "String";

    public string? StringValue { get; set; }

    public string? BinaryValue { get; set; }
}

internal sealed class CreateQueueRequest
{
    public required string QueueName { get; init; }

    public Dictionary<string, string>? Attributes { get; init; }
}

internal sealed class QueueNameRequest
{
    public required string QueueName { get; init; }
}

internal sealed class QueueUrlResponse
{
    public string? QueueUrl { get; set; }
}

internal sealed class GetQueueAttributesRequest
{
    public required string QueueUrl { get; init; }

    public required List<string> AttributeNames { get; init; }
}

internal sealed class SetQueueAttributesRequest
{
    public required string QueueUrl { get; init; }

    public required Dictionary<string, string> Attributes { get; init; }
}

internal sealed class AttributesResponse
{
    public Dictionary<string, string>? Attributes { get; set; }
}

internal sealed class SendMessageBatchRequest
{
    public required string QueueUrl { get; init; }

    public required List<SendMessageBatchEntry> Entries { get; init; }
}

internal sealed class SendMessageBatchEntry
{
    public required string Id { get; init; }

    public required string MessageBody { get; init; }

    public int? DelaySeconds { get; init; }

    public Dictionary<string, SqsAttributeValue>? MessageAttributes { get; init; }
}

internal sealed class BatchResponse
{
    public List<BatchResultEntry>? Successful { get; set; }

    public List<BatchErrorEntry>? Failed { get; set; }
}

internal sealed class BatchResultEntry
{
    public string? Id { get; set; }

    public string? MessageId { get; set; }
}

internal sealed class BatchErrorEntry
{
    public string? Id { get; set; }

    public bool SenderFault { get; set; }

    public string? Code { get; set; }

    public string? Message { get; set; }
}

internal sealed class ReceiveMessageRequest
{
    public required string QueueUrl { get; init; }

    public int MaxNumberOfMessages { get; init; }

    public int WaitTimeSeconds { get; init; }

    public int? VisibilityTimeout { get; init; }

    public List<string>? MessageSystemAttributeNames { get; init; }

    public List<string>? MessageAttributeNames { get; init; }
}

internal sealed class ReceiveMessageResponse
{
    public List<SqsMessage>? Messages { get; set; }
}

/// <summary>A message as ReceiveMessage returns it.</summary>
internal sealed class SqsMessage
{
    public string MessageId { get; set; } = string.Empty;

    public string ReceiptHandle { get; set; } = string.Empty;

    public string? Body { get; set; }

    public Dictionary<string, string>? Attributes { get; set; }

    public Dictionary<string, SqsAttributeValue>? MessageAttributes { get; set; }
}

internal sealed class ReceiptEntry
{
    public required string Id { get; init; }

    public required string ReceiptHandle { get; init; }

    public int? VisibilityTimeout { get; init; }
}

internal sealed class ReceiptBatchRequest
{
    public required string QueueUrl { get; init; }

    public required List<ReceiptEntry> Entries { get; init; }
}

internal sealed class ChangeVisibilityRequest
{
    public required string QueueUrl { get; init; }

    public required string ReceiptHandle { get; init; }

    public int VisibilityTimeout { get; init; }
}

internal sealed class StartMessageMoveTaskRequest
{
    public required string SourceArn { get; init; }

    public string? DestinationArn { get; init; }
}

internal sealed class StartMessageMoveTaskResponse
{
    public string? TaskHandle { get; set; }
}

internal sealed class SqsErrorResponse
{
    [JsonPropertyName("__type")]
    public string? Type { get; set; }

    [JsonPropertyName("message")]
    public string? LowerMessage { get; set; }

    [JsonPropertyName("Message")]
    public string? Message { get; set; }
}

internal sealed class EmptyResponse
{
}

/// <summary>Source-generated serialization of the SQS JSON shapes.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, PropertyNameCaseInsensitive = false)]
[JsonSerializable(typeof(CreateQueueRequest))]
[JsonSerializable(typeof(QueueNameRequest))]
[JsonSerializable(typeof(QueueUrlResponse))]
[JsonSerializable(typeof(GetQueueAttributesRequest))]
[JsonSerializable(typeof(SetQueueAttributesRequest))]
[JsonSerializable(typeof(AttributesResponse))]
[JsonSerializable(typeof(SendMessageBatchRequest))]
[JsonSerializable(typeof(BatchResponse))]
[JsonSerializable(typeof(ReceiveMessageRequest))]
[JsonSerializable(typeof(ReceiveMessageResponse))]
[JsonSerializable(typeof(ReceiptBatchRequest))]
[JsonSerializable(typeof(ChangeVisibilityRequest))]
[JsonSerializable(typeof(StartMessageMoveTaskRequest))]
[JsonSerializable(typeof(StartMessageMoveTaskResponse))]
[JsonSerializable(typeof(SqsErrorResponse))]
[JsonSerializable(typeof(EmptyResponse))]
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class SqsJsonContext : JsonSerializerContext
{
}

using System.Net;
using Amazon.Runtime;
using Amazon.SQS.Model;

namespace Bus.AmazonSqs.Sqs;

/// <summary>What the SDK's SQS errors mean to the transport.</summary>
internal static class SqsErrors
{
    /// <summary>Whether an error means the queue does not exist.</summary>
    public static bool IsQueueMissing(Exception error) =>
        error is QueueDoesNotExistException
        || (error is AmazonServiceException { ErrorCode: { } code } && IsQueueMissing(code));

    /// <summary>Whether an error code means the queue does not exist.</summary>
    public static bool IsQueueMissing(string? code) =>
        code is "QueueDoesNotExist" or "AWS.SimpleQueueService.NonExistentQueue" or "NonExistentQueue";

    /// <summary>Whether an error means the receipt handle no longer holds the message.</summary>
    public static bool IsStaleHandle(Exception error) =>
        error is ReceiptHandleIsInvalidException or MessageNotInflightException
        || (error is AmazonServiceException service && IsStaleHandle(service.ErrorCode, service.Message));

    /// <summary>Whether an error code and message mean the receipt handle no longer holds the message.</summary>
    public static bool IsStaleHandle(string? code, string? message)
    {
        if (code is "MessageNotInflight" or "ReceiptHandleIsInvalid" or "InvalidReceiptHandle"
            or "AWS.SimpleQueueService.MessageNotInflight" or "AWS.SimpleQueueService.ReceiptHandleIsInvalid")
        {
            return true;
        }

        if (code is "InvalidParameterValue" && message is not null)
        {
            return message.Contains("receipt handle", StringComparison.OrdinalIgnoreCase)
                || message.Contains("not available for visibility timeout change", StringComparison.OrdinalIgnoreCase)
                || message.Contains("has expired", StringComparison.OrdinalIgnoreCase);
        }

        return false;
    }

    /// <summary>Whether an error means the service does not have the operation at all (an emulator, a compatible
    /// service, a region or queue type without it), as opposed to failing it.</summary>
    public static bool IsUnsupported(Exception error) =>
        error is UnsupportedOperationException
        || (error is AmazonServiceException service
            && (service.StatusCode == HttpStatusCode.NotImplemented
                || service.ErrorCode is "InvalidAction" or "UnsupportedOperation" or "AWS.SimpleQueueService.UnsupportedOperation"
                    or "UnknownOperationException" or "UnknownOperation" or "NotImplemented"));
}

using System.Net;

namespace Bus.AmazonSqs;

/// <summary>An Amazon SQS or SNS request failed with an error the transport does not retry (or retried until its
/// attempts ran out).</summary>
public sealed class AmazonSqsException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AmazonSqsException(
        string service, string operation, string code, string errorMessage, HttpStatusCode? statusCode,
        Exception? innerException = null, IReadOnlyList<string>? failedMessageIds = null)
        : base($"{service.ToUpperInvariant()} {operation} failed: {code}{(statusCode is { } s ? $" (HTTP {(int)s})" : string.Empty)}: {errorMessage}", innerException)
    {
        Service = service;
        Operation = operation;
        Code = code;
        ErrorMessage = errorMessage;
        StatusCode = statusCode;
        FailedMessageIds = failedMessageIds ?? [];
    }

    /// <summary>The service: "sqs" or "sns".</summary>
    public string Service { get; }

    /// <summary>The operation, e.g. "SendMessageBatch".</summary>
    public string Operation { get; }

    /// <summary>The AWS error code, e.g. "QueueDoesNotExist" or "InvalidParameterValue".</summary>
    public string Code { get; }

    /// <summary>The service's error message.</summary>
    public string ErrorMessage { get; }

    /// <summary>The HTTP status, when a response arrived.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>For a batch send: the bus message ids that were not accepted (the others were). Empty otherwise.</summary>
    public IReadOnlyList<string> FailedMessageIds { get; }
}

using System.Net;

namespace Bus.AzureServiceBus;

/// <summary>Service Bus refused or failed a request (after retries, where the failure was transient).</summary>
public sealed class ServiceBusRequestException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ServiceBusRequestException(string message, HttpStatusCode? statusCode, string entityPath, Exception? innerException = null)
        : base(message, innerException)
    {
        StatusCode = statusCode;
        EntityPath = entityPath;
    }

    /// <summary>The HTTP status, or null when no response came (network failure).</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>The queue, topic or subscription the request was for.</summary>
    public string EntityPath { get; }
}

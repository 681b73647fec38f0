namespace Bus;

/// <summary>The header names the bus writes. All start with <c>bus-</c> except the W3C trace context headers.</summary>
public static class MessageHeaders
{
    /// <summary>Unique id of the message; kept across retries and redrives.</summary>
    public const string MessageId = "bus-message-id";

    /// <summary>The registered wire name of the message type.</summary>
    public const string MessageType = "bus-message-type";

    /// <summary>The version of the message contract.</summary>
    public const string MessageVersion = "bus-message-version";

    /// <summary>Correlation id shared by a conversation.</summary>
    public const string CorrelationId = "bus-correlation-id";

    /// <summary>Id of the message being handled when this one was sent.</summary>
    public const string CausationId = "bus-causation-id";

    /// <summary>When the message was sent (ISO 8601).</summary>
    public const string SentAt = "bus-sent-at";

    /// <summary>Body content type, e.g. application/json.</summary>
    public const string ContentType = "bus-content-type";

    /// <summary>Comma-separated names of headers that ride along on everything sent while handling this message.</summary>
    public const string StickyHeaders = "bus-sticky";

    /// <summary>The time a delayed message is due, when the delay is longer than the transport can hold at once.</summary>
    public const string DeliverAt = "bus-deliver-at";

    /// <summary>The workflow instance id; sticky, so replies find their instance.</summary>
    public const string WorkflowId = "bus-workflow-id";

    /// <summary>Attempts counted on earlier copies of this message, for transports that re-send a copy to delay or
    /// release it (the copy's native receive count starts again at 1).</summary>
    public const string PriorAttempts = "bus-prior-attempts";

    /// <summary>The message's priority, "1" to "9" (higher is delivered sooner); absent means 0. Written by the bus from
    /// <see cref="DeliveryOptions.Priority"/> or the type's <see cref="MessagePriorityAttribute"/>; kept across retries,
    /// dead-lettering and redrive. Transports read it as <see cref="Transports.TransportMessage.Priority"/>.</summary>
    public const string Priority = "bus-priority";

    /// <summary>W3C trace context.</summary>
    public const string TraceParent = "traceparent";

    /// <summary>W3C trace state.</summary>
    public const string TraceState = "tracestate";

    /// <summary>Prefix of the failure headers on dead letters.</summary>
    public const string FailurePrefix = "bus-failure-";

    /// <summary>Why the message was dead-lettered.</summary>
    public const string FailureReason = "bus-failure-reason";

    /// <summary>Exception type name.</summary>
    public const string FailureExceptionType = "bus-failure-exception-type";

    /// <summary>Exception message.</summary>
    public const string FailureExceptionMessage = "bus-failure-exception-message";

    /// <summary>Exception stack trace.</summary>
    public const string FailureStackTrace = "bus-failure-stack-trace";

    /// <summary>Attempts made.</summary>
    public const string FailureAttempts = "bus-failure-attempts";

    /// <summary>Queue the message was received from.</summary>
    public const string FailureSourceQueue = "bus-failure-source-queue";

    /// <summary>When it was dead-lettered.</summary>
    public const string FailureFailedAt = "bus-failure-failed-at";

    /// <summary>Whether a header is one of the failure headers.</summary>
    public static bool IsFailureHeader(string name) => name.StartsWith(FailurePrefix, StringComparison.Ordinal);
}

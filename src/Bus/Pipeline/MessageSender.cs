using System.Diagnostics;
using System.Globalization;
using Bus.Diagnostics;
using Bus.Serialization;
using Bus.Transports;

namespace Bus.Pipeline;

/// <summary>Turns a message object into a transport message with its destination and due time: headers, routing,
/// delays; and sends it (one at a time, or the messages a handler sent, together).</summary>
internal sealed class MessageSender(
    MessageTypeRegistry registry,
    HandlerRegistry handlers,
    IReadOnlyDictionary<Type, string> routes,
    string endpointName,
    IMessageSerializer serializer,
    ITransport transport,
    TimeProvider time,
    bool strict = false)
{
    [ThreadStatic]
    private static Dictionary<string, string>? ScratchHeaders;

    public string EndpointName => endpointName;

    public (Destination Destination, BusMessage Message, DateTimeOffset? VisibleAt) Build(object message, MessageKind kind, DeliveryOptions? options, MessageContext? handling)
    {
        ArgumentNullException.ThrowIfNull(message);
        var type = registry.Get(message.GetType());
        if (type.Kind != kind)
        {
            throw new InvalidOperationException(kind == MessageKind.Command
                ? $"'{type.WireName}' is an event: publish it with PublishAsync, it has no single owner to send it to."
                : $"'{type.WireName}' is a command: send it with SendAsync to its one owner; only events are published.");
        }

        var now = time.GetUtcNow();
        // The headers are collected in a reusable per-thread dictionary: TransportMessage copies them into its own.
        var headers = ScratchHeaders ?? new Dictionary<string, string>(16, StringComparer.Ordinal);
        ScratchHeaders = null; // a nested Build on this thread (e.g. from a serializer) gets its own
        try
        {
            return Build(message, type, kind, options, handling, headers, now);
        }
        finally
        {
            headers.Clear();
            ScratchHeaders = headers;
        }
    }

    private (Destination Destination, BusMessage Message, DateTimeOffset? VisibleAt) Build(
        object message, MessageType type, MessageKind kind, DeliveryOptions? options, MessageContext? handling, Dictionary<string, string> headers, DateTimeOffset now)
    {
        var destination = kind == MessageKind.Event
            ? (options?.Destination is null
                ? Destination.Topic(type.WireName)
                : throw new ArgumentException("DeliveryOptions.Destination applies to commands only; events go to every subscriber.", nameof(options)))
            : Destination.Queue(options?.Destination ?? RouteOf(type));

        // The standard headers are fields of the BusMessage (the id and sent-at formatted only when read); the scratch
        // dictionary collects the others.
        var givenId = options?.MessageId;
        var id = givenId is null ? MessageIds.New(now) : Guid.Empty;
        AddSticky(headers, handling, options?.StickyOrNull);
        if (options?.HeadersOrNull is { } custom)
        {
            foreach (var (name, value) in custom)
            {
                headers[CheckHeaderName(name)] = value ?? throw new ArgumentException($"Header '{name}' has a null value.", nameof(options));
            }
        }

        if (PriorityOf(type, options) is > 0 and var priority)
        {
            headers[MessageHeaders.Priority] = priority.ToString(CultureInfo.InvariantCulture);
        }

        // The message's own "create" span (OpenTelemetry messaging) is the parent of its "process" span, whether or not
        // the sender had an activity; it is made only when someone listens. Without listeners the ambient context, if
        // any, rides along.
        using var create = BusTelemetry.Source.HasListeners()
            ? BusTelemetry.Source.StartActivity($"create {destination.Name}", ActivityKind.Producer)
            : null;
        if ((create ?? Activity.Current) is { } activity)
        {
            headers[MessageHeaders.TraceParent] = activity.Id!;
            if (activity.TraceStateString is { } state)
            {
                headers[MessageHeaders.TraceState] = state;
            }
        }

        var visibleAt = DueTime(options, now);
        if (visibleAt is { } due && due - now > transport.Capabilities.MaxDelay)
        {
            headers[MessageHeaders.DeliverAt] = due.ToString("O", CultureInfo.InvariantCulture);
            visibleAt = now + transport.Capabilities.MaxDelay;
        }

        var body = serializer.Serialize(message, type.ClrType);
        var made = new BusMessage(
            id,
            givenId,
            now,
            type,
            serializer.ContentType,
            correlationId: options?.CorrelationId ?? handling?.CorrelationId,
            causationId: handling?.MessageId,
            headers,
            body);
        create?.SetTag("messaging.message.id", made.MessageId); // the id is formatted once, for the tag and the wire
        return (destination, made, visibleAt);
    }

    /// <summary>Sends one message (<see cref="IBus"/> outside a handler) through the transport's single-message send:
    /// no list and no <see cref="OutgoingMessage"/> on a transport that sends one message natively.</summary>
    public async Task SendAsync(Destination destination, TransportMessage message, DateTimeOffset? visibleAt, CancellationToken cancellationToken)
    {
        // The span's name is only built when someone listens: otherwise every send would allocate it for nothing.
        using var activity = BusTelemetry.Source.HasListeners()
            ? BusTelemetry.Source.StartActivity($"send {destination.Name}", ActivityKind.Producer)
            : null;
        await transport.SendAsync(destination, message, visibleAt, cancellationToken).ConfigureAwait(false);
        BusTelemetry.Sent.Add(1, new KeyValuePair<string, object?>("bus.endpoint", endpointName));
    }

    /// <summary>Sends <paramref name="messages"/> together (what a handler sent, flushed after it succeeded).</summary>
    public async Task SendAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken)
    {
        if (messages.Count == 0)
        {
            return;
        }

        // The span's name is only built when someone listens: otherwise every send would allocate it for nothing.
        using var activity = BusTelemetry.Source.HasListeners()
            ? BusTelemetry.Source.StartActivity(messages.Count == 1 ? $"send {messages[0].Destination.Name}" : "send batch", ActivityKind.Producer)
            : null;
        await transport.SendAsync(messages, cancellationToken).ConfigureAwait(false);
        BusTelemetry.Sent.Add(messages.Count, new KeyValuePair<string, object?>("bus.endpoint", endpointName));
    }

    private string RouteOf(MessageType type)
    {
        if (routes.TryGetValue(type.ClrType, out var endpoint))
        {
            return endpoint;
        }

        if (handlers.For(type.ClrType).Length > 0)
        {
            return endpointName;
        }

        throw new InvalidOperationException(
            $"No route for command '{type.WireName}': configure bus.RouteCommand<{type.ClrType.Name}>(\"owning-endpoint\") or handle it on this endpoint.");
    }

    /// <summary>The send's priority, else the type's default; checked against the transport in strict mode.</summary>
    private int PriorityOf(MessageType type, DeliveryOptions? options)
    {
        var priority = options?.Priority ?? type.Priority;
        if (priority is < DeliveryOptions.MinPriority or > DeliveryOptions.MaxPriority)
        {
            throw new ArgumentOutOfRangeException(
                nameof(options), priority, $"DeliveryOptions.Priority must be {DeliveryOptions.MinPriority} to {DeliveryOptions.MaxPriority} (higher is delivered sooner), or null for the type's default.");
        }

        if (priority > 0 && strict && transport.Capabilities.PriorityOrdering == PriorityOrdering.None)
        {
            throw new NotSupportedException(
                $"The {transport.Capabilities.Name} transport does not order messages by priority, so the priority {priority} of '{type.WireName}' " +
                "would be ignored. Send without DeliveryOptions.Priority, or set bus.Strict = false to send it as a header only.");
        }

        return priority;
    }

    private DateTimeOffset? DueTime(DeliveryOptions? options, DateTimeOffset now)
    {
        if (options is null)
        {
            return null;
        }

        if (options.Delay is not null && options.DeliverAt is not null)
        {
            throw new ArgumentException("Set either Delay or DeliverAt, not both.", nameof(options));
        }

        if (options.Delay is { } delay)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero, nameof(options.Delay));
            return delay == TimeSpan.Zero ? null : now + delay;
        }

        return options.DeliverAt is { } at && at > now ? at : null;
    }

    private static void AddSticky(Dictionary<string, string> headers, MessageContext? handling, IReadOnlyDictionary<string, string>? added)
    {
        List<string>? names = null;
        if (handling is not null && handling.Headers.TryGetValue(MessageHeaders.StickyHeaders, out var list) && list.Length > 0)
        {
            foreach (var name in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                // A sticky list naming a standard header (the id, the type, ...) cannot make it ride along: each message
                // has its own.
                if (!BusMessage.IsStandard(name) && handling.Headers.TryGetValue(name, out var value))
                {
                    headers[name] = value;
                    (names ??= []).Add(name);
                }
            }
        }

        if (handling?.AddedSticky is { } fromHandler)
        {
            foreach (var (name, value) in fromHandler)
            {
                headers[name] = value;
                names ??= [];
                if (!names.Contains(name))
                {
                    names.Add(name);
                }
            }
        }

        if (added is not null)
        {
            foreach (var (name, value) in added)
            {
                if (name.Contains(',', StringComparison.Ordinal))
                {
                    throw new ArgumentException($"Sticky header name '{name}' may not contain a comma.");
                }

                headers[name == MessageHeaders.WorkflowId ? name : CheckHeaderName(name)] = value;
                names ??= [];
                if (!names.Contains(name))
                {
                    names.Add(name);
                }
            }
        }

        if (names is not null)
        {
            headers[MessageHeaders.StickyHeaders] = string.Join(',', names);
        }
    }

    private static string CheckHeaderName(string name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new ArgumentException("Header names must not be empty.");
        }

        if (name.StartsWith("bus-", StringComparison.OrdinalIgnoreCase) || name is MessageHeaders.TraceParent or MessageHeaders.TraceState)
        {
            throw new ArgumentException($"Header '{name}' is reserved for the bus; use DeliveryOptions properties instead.");
        }

        return name;
    }
}

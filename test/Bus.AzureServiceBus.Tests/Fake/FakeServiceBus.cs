using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;
using Bus.Testing;
using Bus.Timing;

namespace Bus.AzureServiceBus.Tests.Fake;

/// <summary>
/// An in-process model of the documented Service Bus REST contract, as an <see cref="HttpMessageHandler"/>:
/// Atom entity creation (201/409) with schema element order checked, update with <c>If-Match: *</c> (200; 400 when it
/// would change RequiresSession), descriptions with ForwardTo as an absolute URI, send and batch send (scheduled
/// enqueue honoured), peek-lock receive with LockDuration, LockedUntilUtc and DeliveryCount, lock expiry,
/// MaxDeliveryCount moving messages to <c>$DeadLetterQueue</c>, complete/unlock/renew on the lock URI (200, 404 lost
/// lock, 410 entity gone), 204 on an empty receive after the timeout, subscriptions forwarding into queues, SAS
/// signature checking, and the supplementary authorization (SAS or bearer) that creating or updating an entity with
/// ForwardTo or ForwardDeadLetteredMessagesTo needs for its target (dead-letter forwarding itself is not modelled).
/// All time is the given <see cref="ManualTimeProvider"/>'s.
/// </summary>
internal sealed class FakeServiceBus : HttpMessageHandler
{
    public const string Host = "fake.servicebus.windows.net";
    public const string KeyName = "RootManageSharedAccessKey";
    public const string Key = "fake-key-0123456789abcdef=";
    public static readonly string ConnectionString = $"Endpoint=sb://{Host}/;SharedAccessKeyName={KeyName};SharedAccessKey={Key}";

    private static readonly XNamespace Atom = "http://www.w3.org/2005/Atom";
    private static readonly XNamespace Sb = "http://schemas.microsoft.com/netservices/2010/10/servicebus/connect";

    private static readonly Dictionary<string, string[]> SchemaOrder = new()
    {
        ["QueueDescription"] =
        [
            "LockDuration", "MaxSizeInMegabytes", "RequiresDuplicateDetection", "RequiresSession", "DefaultMessageTimeToLive",
            "DeadLetteringOnMessageExpiration", "DuplicateDetectionHistoryTimeWindow", "MaxDeliveryCount", "EnableBatchedOperations",
            "SizeInBytes", "MessageCount", "IsAnonymousAccessible", "AuthorizationRules", "Status", "ForwardTo", "UserMetadata",
            "CreatedAt", "UpdatedAt", "AccessedAt", "SupportOrdering", "CountDetails", "AutoDeleteOnIdle", "EnablePartitioning",
            "EntityAvailabilityStatus", "ForwardDeadLetteredMessagesTo", "EnableExpress",
        ],
        ["TopicDescription"] =
        [
            "DefaultMessageTimeToLive", "MaxSizeInMegabytes", "RequiresDuplicateDetection", "DuplicateDetectionHistoryTimeWindow",
            "EnableBatchedOperations", "SizeInBytes", "FilteringMessagesBeforePublishing", "IsAnonymousAccessible", "AuthorizationRules",
            "Status", "UserMetadata", "CreatedAt", "UpdatedAt", "AccessedAt", "SupportOrdering", "CountDetails", "AutoDeleteOnIdle",
            "EnablePartitioning", "EntityAvailabilityStatus", "EnableSubscriptionPartitioning", "EnableExpress",
        ],
        ["SubscriptionDescription"] =
        [
            "LockDuration", "RequiresSession", "DefaultMessageTimeToLive", "DeadLetteringOnMessageExpiration",
            "DeadLetteringOnFilterEvaluationExceptions", "DefaultRuleDescription", "MessageCount", "MaxDeliveryCount",
            "EnableBatchedOperations", "Status", "ForwardTo", "UserMetadata", "ForwardDeadLetteredMessagesTo", "AutoDeleteOnIdle",
            "CreatedAt", "UpdatedAt", "AccessedAt", "EntityAvailabilityStatus",
        ],
    };

    private readonly object _gate = new();
    private readonly Dictionary<string, Entity> _entities = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<(DateTimeOffset At, HttpMethod Method, string PathAndQuery, string? ContentType)> _requests = [];
    private readonly ManualTimeProvider _time;
    private TaskCompletionSource _changed = NewSignal();
    private long _sequence;

    public FakeServiceBus(ManualTimeProvider time)
    {
        _time = time;
    }

    /// <summary>Simulated time each request takes on the manual clock (a real request never takes zero time).</summary>
    public TimeSpan Latency { get; set; }

    /// <summary>Statuses to answer the next requests with, before any processing (throttling, outages).</summary>
    public Queue<HttpStatusCode> InjectedFailures { get; } = new();

    /// <summary>Every request seen so far (a copy): when it arrived on the clock, method, path and query, content type.</summary>
    public IReadOnlyList<(DateTimeOffset At, HttpMethod Method, string PathAndQuery, string? ContentType)> Requests
    {
        get
        {
            lock (_gate)
            {
                return _requests.ToList();
            }
        }
    }

    /// <summary>Whether SAS signatures are checked against <see cref="Key"/> (off for Entra tests).</summary>
    public bool CheckSasSignature { get; set; } = true;

    public bool Exists(string path)
    {
        lock (_gate)
        {
            return _entities.ContainsKey(path);
        }
    }

    public void Delete(string path)
    {
        lock (_gate)
        {
            _entities.Remove(path);
        }
    }

    /// <summary>Messages held by an entity (queue, subscription or "x/$DeadLetterQueue"), locked or not.</summary>
    public IReadOnlyList<StoredMessage> MessagesIn(string path)
    {
        lock (_gate)
        {
            return _entities.TryGetValue(path, out var e) ? e.Messages.ToList() : [];
        }
    }

    public string? ForwardTo(string path)
    {
        lock (_gate)
        {
            return _entities.TryGetValue(path, out var e) ? e.ForwardTo : null;
        }
    }

    public string? ForwardDeadLetteredMessagesTo(string path)
    {
        lock (_gate)
        {
            return _entities.TryGetValue(path, out var e) ? e.ForwardDeadLetteredMessagesTo : null;
        }
    }

    public TimeSpan? LockDurationOf(string path)
    {
        lock (_gate)
        {
            return _entities.TryGetValue(path, out var e) ? e.LockDuration : null;
        }
    }

    public int? MaxDeliveryCountOf(string path)
    {
        lock (_gate)
        {
            return _entities.TryGetValue(path, out var e) ? e.MaxDeliveryCount : null;
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var arrivedAt = _time.GetUtcNow();
        if (Latency > TimeSpan.Zero)
        {
            _time.Advance(Latency);
        }

        var uri = request.RequestUri!;
        lock (_gate)
        {
            _requests.Add((arrivedAt, request.Method, uri.PathAndQuery, request.Content?.Headers.ContentType?.MediaType));
            if (InjectedFailures.TryDequeue(out var injected))
            {
                var failure = new HttpResponseMessage(injected);
                if (injected == HttpStatusCode.TooManyRequests)
                {
                    failure.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(1));
                }

                return failure;
            }
        }

        if (uri.Host != Host)
        {
            return Status(HttpStatusCode.NotFound, "Unknown namespace");
        }

        if (!Authorized(request, uri, out var why))
        {
            return Status(HttpStatusCode.Unauthorized, why);
        }

        var path = Uri.UnescapeDataString(uri.AbsolutePath.Trim('/'));
        var query = ParseQuery(uri.Query);
        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);

        if (query.ContainsKey("api-version"))
        {
            return request.Method == HttpMethod.Put ? Create(path, body, request)
                : request.Method == HttpMethod.Get ? Describe(path)
                : Status(HttpStatusCode.MethodNotAllowed, "");
        }

        if (path.EndsWith("/messages/head", StringComparison.OrdinalIgnoreCase) && request.Method == HttpMethod.Post)
        {
            var timeout = query.TryGetValue("timeout", out var t) ? int.Parse(t, CultureInfo.InvariantCulture) : 60;
            return await PeekLockAsync(path[..^"/messages/head".Length], TimeSpan.FromSeconds(timeout), cancellationToken);
        }

        if (path.EndsWith("/messages", StringComparison.OrdinalIgnoreCase) && request.Method == HttpMethod.Post)
        {
            return Send(path[..^"/messages".Length], request, body);
        }

        var marker = path.LastIndexOf("/messages/", StringComparison.OrdinalIgnoreCase);
        if (marker > 0)
        {
            var rest = path[(marker + "/messages/".Length)..].Split('/');
            if (rest.Length == 2 && long.TryParse(rest[0], out var seq))
            {
                return LockOperation(path[..marker], seq, rest[1], request.Method);
            }
        }

        return Status(HttpStatusCode.BadRequest, "Unknown operation");
    }

    private bool Authorized(HttpRequestMessage request, Uri uri, out string why)
    {
        why = "";
        if (!request.Headers.TryGetValues("Authorization", out var values))
        {
            why = "No Authorization header";
            return false;
        }

        var value = values.Single();
        if (value.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return value.Length > 7;
        }

        if (!value.StartsWith("SharedAccessSignature ", StringComparison.Ordinal))
        {
            why = "Unknown scheme";
            return false;
        }

        if (!CheckSasSignature)
        {
            return true;
        }

        return SasIsValid(value["SharedAccessSignature ".Length..], uri, out why);
    }

    /// <summary>Forwarding needs proof of rights on the target besides the Authorization of the request, under either
    /// scheme: a SAS token that covers the target, or <c>Bearer {token}</c> under Entra ID.</summary>
    private bool SupplementaryAuthorized(HttpRequestMessage request, string header, string target, out string why)
    {
        why = "";
        if (!request.Headers.TryGetValues(header, out var values))
        {
            why = $"Forwarding to '{target}' needs the {header} header";
            return false;
        }

        var value = values.Single();
        if (value.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            why = $"{header} has an empty bearer token";
            return value.Length > 7;
        }

        if (!value.StartsWith("SharedAccessSignature ", StringComparison.Ordinal))
        {
            why = $"{header} has an unknown scheme";
            return false;
        }

        if (!CheckSasSignature || SasIsValid(value["SharedAccessSignature ".Length..], new Uri($"https://{Host}/{target}"), out why))
        {
            return true;
        }

        why = $"{header}: {why}";
        return false;
    }

    private bool SasIsValid(string token, Uri? target, out string why)
    {
        var parts = token.Split('&').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
        why = "";
        if (!parts.TryGetValue("sr", out var sr) || !parts.TryGetValue("sig", out var sig) || !parts.TryGetValue("se", out var se) || !parts.TryGetValue("skn", out var skn))
        {
            why = "Malformed SAS token";
            return false;
        }

        if (skn != KeyName)
        {
            why = "Unknown key name";
            return false;
        }

        if (long.Parse(se, CultureInfo.InvariantCulture) <= _time.GetUtcNow().ToUnixTimeSeconds())
        {
            why = "Token expired";
            return false;
        }

        var expected = Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Key), Encoding.UTF8.GetBytes(sr + "\n" + se)));
        if (WebUtility.UrlDecode(sig) != expected)
        {
            why = "Bad signature";
            return false;
        }

        var resource = WebUtility.UrlDecode(sr);
        if (target is not null && !target.AbsoluteUri.StartsWith(resource, StringComparison.OrdinalIgnoreCase) &&
            !("https://" + target.Host + target.AbsolutePath).StartsWith(resource.Replace("sb://", "https://", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase))
        {
            why = "Token not valid for this resource";
            return false;
        }

        return true;
    }

    private HttpResponseMessage Create(string path, byte[] body, HttpRequestMessage request)
    {
        XElement description;
        try
        {
            var entry = XDocument.Parse(Encoding.UTF8.GetString(body)).Root!;
            if (entry.Name != Atom + "entry")
            {
                return Status(HttpStatusCode.BadRequest, "Not an Atom entry");
            }

            description = entry.Element(Atom + "content")!.Elements().Single();
        }
        catch (Exception e) when (e is System.Xml.XmlException or InvalidOperationException or NullReferenceException)
        {
            return Status(HttpStatusCode.BadRequest, "Malformed Atom entry: " + e.Message);
        }

        var kind = description.Name.LocalName;
        if (description.Name.Namespace != Sb || !SchemaOrder.TryGetValue(kind, out var order))
        {
            return Status(HttpStatusCode.BadRequest, "Unknown description " + description.Name);
        }

        var last = -1;
        foreach (var element in description.Elements())
        {
            var index = Array.IndexOf(order, element.Name.LocalName);
            if (element.Name.Namespace != Sb || index < 0 || index < last)
            {
                return Status(HttpStatusCode.BadRequest, $"Element '{element.Name.LocalName}' is unknown or out of order in {kind}");
            }

            last = index;
        }

        string? Value(string name) => description.Element(Sb + name)?.Value;
        var segments = path.Split('/');
        var isSubscription = kind == "SubscriptionDescription";
        if (isSubscription != (segments.Length == 3 && segments[1].Equals("Subscriptions", StringComparison.OrdinalIgnoreCase)))
        {
            return Status(HttpStatusCode.BadRequest, "Description does not fit the path");
        }

        var update = request.Headers.IfMatch.Contains(System.Net.Http.Headers.EntityTagHeaderValue.Any);
        TaskCompletionSource? signal;
        lock (_gate)
        {
            string? forwardTo = null;
            string? forwardDeadLettersTo = null;
            foreach (var (element, header) in new[] { ("ForwardTo", "ServiceBusSupplementaryAuthorization"), ("ForwardDeadLetteredMessagesTo", "ServiceBusDlqSupplementaryAuthorization") })
            {
                if (Value(element) is not { Length: > 0 } forward)
                {
                    continue;
                }

                var target = Uri.TryCreate(forward, UriKind.Absolute, out var f) ? Uri.UnescapeDataString(f.AbsolutePath.Trim('/')) : forward.Trim('/');
                if (!SupplementaryAuthorized(request, header, target, out var why))
                {
                    return Status(HttpStatusCode.Unauthorized, why);
                }

                if (!_entities.TryGetValue(target, out var existing) || existing.Kind is EntityKind.Subscription or EntityKind.DeadLetterQueue)
                {
                    return Status(HttpStatusCode.BadRequest, $"{element} entity '{target}' does not exist");
                }

                if (element == "ForwardTo")
                {
                    forwardTo = target;
                }
                else
                {
                    forwardDeadLettersTo = target;
                }
            }

            _entities.TryGetValue(path, out var current);
            if (current is not null && !update)
            {
                return Status(HttpStatusCode.Conflict, "Entity already exists");
            }

            if (current is null && update)
            {
                return Status(HttpStatusCode.NotFound, $"Entity '{path}' does not exist");
            }

            if (isSubscription && !(_entities.TryGetValue(segments[0], out var topic) && topic.Kind == EntityKind.Topic))
            {
                return Status(HttpStatusCode.NotFound, $"Topic '{segments[0]}' does not exist");
            }

            var lockDuration = Value("LockDuration") is { } ld ? System.Xml.XmlConvert.ToTimeSpan(ld) : TimeSpan.FromMinutes(1);
            if (lockDuration < TimeSpan.FromSeconds(5) || lockDuration > TimeSpan.FromMinutes(5))
            {
                return Status(HttpStatusCode.BadRequest, "LockDuration out of range");
            }

            var entityKind = kind switch { "QueueDescription" => EntityKind.Queue, "TopicDescription" => EntityKind.Topic, _ => EntityKind.Subscription };
            var maxDeliveryCount = Value("MaxDeliveryCount") is { } mdc ? int.Parse(mdc, CultureInfo.InvariantCulture) : 10;
            var requiresSession = Value("RequiresSession") == "true";
            if (current is not null)
            {
                // An update replaces the description (what was left out takes its default); the messages stay.
                if (current.Kind != entityKind)
                {
                    return Status(HttpStatusCode.BadRequest, $"Entity '{path}' is a {current.Kind}, not a {entityKind}");
                }

                if (current.RequiresSession != requiresSession)
                {
                    return Status(HttpStatusCode.BadRequest, $"The value for the RequiresSession property of an existing entity '{path}' cannot be changed");
                }

                current.LockDuration = lockDuration;
                current.MaxDeliveryCount = maxDeliveryCount;
                current.ForwardTo = forwardTo;
                current.ForwardDeadLetteredMessagesTo = forwardDeadLettersTo;
                signal = TakeSignal();
            }
            else
            {
                var entity = new Entity(entityKind, lockDuration, maxDeliveryCount, forwardTo)
                {
                    ForwardDeadLetteredMessagesTo = forwardDeadLettersTo,
                    RequiresSession = requiresSession,
                };
                _entities[path] = entity;
                if (entity.Kind != EntityKind.Topic)
                {
                    _entities[path + "/$DeadLetterQueue"] = new Entity(EntityKind.DeadLetterQueue, lockDuration, int.MaxValue, null);
                }

                signal = TakeSignal();
            }
        }

        signal.TrySetResult();
        var response = new HttpResponseMessage(update ? HttpStatusCode.OK : HttpStatusCode.Created)
        {
            Content = new StringContent(new XElement(Atom + "entry", new XElement(Atom + "title", path)).ToString()),
        };
        return response;
    }

    private HttpResponseMessage Describe(string path)
    {
        lock (_gate)
        {
            var root = _entities.TryGetValue(path, out var entity)
                ? new XElement(Atom + "entry", new XElement(Atom + "title", path),
                    new XElement(Atom + "content", new XAttribute("type", "application/xml"),
                        new XElement(Sb + (entity.Kind + "Description"),
                            new XElement(Sb + "LockDuration", System.Xml.XmlConvert.ToString(entity.LockDuration)),
                            new XElement(Sb + "RequiresSession", entity.RequiresSession ? "true" : "false"),
                            new XElement(Sb + "MessageCount", entity.Messages.Count),
                            new XElement(Sb + "MaxDeliveryCount", entity.MaxDeliveryCount),
                            entity.ForwardTo is { } forward ? new XElement(Sb + "ForwardTo", $"https://{Host}/{forward}") : null,
                            new XElement(Sb + "CreatedAt", "2026-01-01T00:00:00Z"),
                            entity.ForwardDeadLetteredMessagesTo is { } deadLetters ? new XElement(Sb + "ForwardDeadLetteredMessagesTo", $"https://{Host}/{deadLetters}") : null)))
                : new XElement(Atom + "feed", new XElement(Atom + "title", "Publicly Listed Services"));
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(root.ToString(), Encoding.UTF8, "application/atom+xml") };
        }
    }

    private HttpResponseMessage Send(string path, HttpRequestMessage request, byte[] body)
    {
        var messages = new List<(byte[] Body, JsonElement? Broker, Dictionary<string, string> Properties)>();
        if (request.Content?.Headers.ContentType?.MediaType == "application/vnd.microsoft.servicebus.json")
        {
            using var doc = JsonDocument.Parse(body);
            foreach (var item in doc.RootElement.EnumerateArray())
            {
                var properties = new Dictionary<string, string>(StringComparer.Ordinal);
                if (item.TryGetProperty("UserProperties", out var user))
                {
                    foreach (var p in user.EnumerateObject())
                    {
                        properties[p.Name] = p.Value.GetRawText(); // JSON literal: same typing rules as headers
                    }
                }

                messages.Add((Encoding.UTF8.GetBytes(item.GetProperty("Body").GetString()!),
                    item.TryGetProperty("BrokerProperties", out var bp) ? bp.Clone() : null, properties));
            }
        }
        else
        {
            var properties = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (name, values) in request.Headers.NonValidated)
            {
                if (name is not ("Authorization" or "BrokerProperties"))
                {
                    properties[name] = string.Join(",", values);
                }
            }

            JsonElement? broker = request.Headers.TryGetValues("BrokerProperties", out var bpv)
                ? JsonDocument.Parse(bpv.Single()).RootElement.Clone()
                : null;
            messages.Add((body, broker, properties));
        }

        TaskCompletionSource signal;
        lock (_gate)
        {
            if (!_entities.TryGetValue(path, out var entity) || entity.Kind is EntityKind.Subscription or EntityKind.DeadLetterQueue)
            {
                return Status(HttpStatusCode.NotFound, $"Entity '{path}' does not exist");
            }

            var now = _time.GetUtcNow();
            foreach (var (messageBody, broker, properties) in messages)
            {
                string? Get(string name) => broker is { } b && b.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                var visibleAt = Get("ScheduledEnqueueTimeUtc") is { } scheduled
                    ? DateTimeOffset.ParseExact(scheduled, "R", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal)
                    : now;
                var template = new StoredMessage(0, messageBody, Get("MessageId") ?? Guid.NewGuid().ToString("N"), Get("CorrelationId"), properties, now, visibleAt);
                foreach (var target in Targets(path, entity))
                {
                    _entities[target].Messages.Add(template with { Sequence = ++_sequence });
                }
            }

            signal = TakeSignal();
        }

        signal.TrySetResult();
        return new HttpResponseMessage(HttpStatusCode.Created);
    }

    /// <summary>Queue: itself. Topic: each subscription, or the entity it forwards to.</summary>
    private IEnumerable<string> Targets(string path, Entity entity)
    {
        if (entity.Kind == EntityKind.Queue)
        {
            yield return entity.ForwardTo ?? path;
            yield break;
        }

        var prefix = path + "/Subscriptions/";
        foreach (var (subPath, sub) in _entities.Where(e => e.Key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && e.Value.Kind == EntityKind.Subscription).ToList())
        {
            yield return sub.ForwardTo is { } forward && _entities.ContainsKey(forward) ? forward : subPath;
        }
    }

    private async Task<HttpResponseMessage> PeekLockAsync(string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + timeout;
        while (true)
        {
            Task wake;
            lock (_gate)
            {
                if (!_entities.TryGetValue(path, out var entity) || entity.Kind == EntityKind.Topic)
                {
                    return Status(HttpStatusCode.NotFound, $"Entity '{path}' does not exist");
                }

                var now = _time.GetUtcNow();
                DeadLetterExhausted(path, entity, now);
                const string dlq = "/$DeadLetterQueue";
                if (path.EndsWith(dlq, StringComparison.Ordinal) && _entities.TryGetValue(path[..^dlq.Length], out var parent))
                {
                    DeadLetterExhausted(path[..^dlq.Length], parent, now); // expired locks are settled lazily
                }

                var message = entity.Messages.Where(m => m.VisibleAt <= now && (m.LockToken is null || m.LockedUntil <= now))
                    .OrderBy(m => m.Sequence).FirstOrDefault();
                if (message is not null)
                {
                    message.DeliveryCount++;
                    message.LockToken = Guid.NewGuid().ToString();
                    message.LockedUntil = now + entity.LockDuration;
                    return Locked(path, message);
                }

                if (now >= deadline)
                {
                    return new HttpResponseMessage(HttpStatusCode.NoContent);
                }

                var next = entity.Messages.Select(m => m.LockToken is not null && m.LockedUntil > now ? m.LockedUntil : m.VisibleAt)
                    .Where(at => at > now).Append(deadline).Min();
                // Task.Delay truncates to whole milliseconds (a sub-millisecond wait would spin inside the manual
                // clock's Advance); rounding up would overshoot a clock moved to exactly the due time.
                wake = Task.WhenAny(_changed.Task, PreciseDelay.WaitUntilAsync(_time, next, cancellationToken));
            }

            await wake.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Messages whose last lock ended after MaxDeliveryCount deliveries move to the dead-letter subqueue.</summary>
    private void DeadLetterExhausted(string path, Entity entity, DateTimeOffset now)
    {
        if (entity.Kind == EntityKind.DeadLetterQueue)
        {
            return;
        }

        foreach (var message in entity.Messages.Where(m => m.DeliveryCount >= entity.MaxDeliveryCount && (m.LockToken is null || m.LockedUntil <= now)).ToList())
        {
            entity.Messages.Remove(message);
            var properties = new Dictionary<string, string>(message.Properties, StringComparer.Ordinal)
            {
                ["DeadLetterReason"] = "\"MaxDeliveryCountExceeded\"",
                ["DeadLetterErrorDescription"] = "\"Message could not be consumed after " + entity.MaxDeliveryCount + " delivery attempts.\"",
            };
            _entities[path + "/$DeadLetterQueue"].Messages.Add(message with { Properties = properties, LockToken = null, DeliveryCount = message.DeliveryCount });
        }
    }

    private static HttpResponseMessage Locked(string path, StoredMessage message)
    {
        var response = new HttpResponseMessage(HttpStatusCode.Created) { Content = new ByteArrayContent(message.Body) };
        response.Headers.Location = new Uri($"https://{Host}/{path}/messages/{message.Sequence}/{message.LockToken}");
        var broker = new Dictionary<string, object?>
        {
            ["DeliveryCount"] = message.DeliveryCount,
            ["LockToken"] = message.LockToken,
            ["LockedUntilUtc"] = message.LockedUntil.UtcDateTime.ToString("R", CultureInfo.InvariantCulture),
            ["MessageId"] = message.MessageId,
            ["SequenceNumber"] = message.Sequence,
            ["EnqueuedTimeUtc"] = message.EnqueuedAt.UtcDateTime.ToString("R", CultureInfo.InvariantCulture),
        };
        if (message.CorrelationId is not null)
        {
            broker["CorrelationId"] = message.CorrelationId;
        }

        response.Headers.TryAddWithoutValidation("BrokerProperties", JsonSerializer.Serialize(broker));
        response.Headers.Date = DateTimeOffset.UtcNow;
        foreach (var (name, raw) in message.Properties)
        {
            response.Headers.TryAddWithoutValidation(name, raw);
        }

        response.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        return response;
    }

    private HttpResponseMessage LockOperation(string path, long sequence, string lockToken, HttpMethod method)
    {
        TaskCompletionSource? signal = null;
        try
        {
            lock (_gate)
            {
                if (!_entities.TryGetValue(path, out var entity))
                {
                    return Status(HttpStatusCode.Gone, $"Entity '{path}' no longer exists");
                }

                var now = _time.GetUtcNow();
                var message = entity.Messages.FirstOrDefault(m => m.Sequence == sequence);
                if (message is null || message.LockToken != lockToken || message.LockedUntil <= now)
                {
                    return Status(HttpStatusCode.NotFound, "The lock supplied is invalid: it expired or the message is gone");
                }

                if (method == HttpMethod.Delete)
                {
                    entity.Messages.Remove(message);
                    return new HttpResponseMessage(HttpStatusCode.OK);
                }

                if (method == HttpMethod.Put)
                {
                    message.LockToken = null;
                    DeadLetterExhausted(path, entity, now); // abandoning the last allowed delivery dead-letters at once
                    signal = TakeSignal();
                    return new HttpResponseMessage(HttpStatusCode.OK);
                }

                if (method == HttpMethod.Post)
                {
                    message.LockedUntil = now + entity.LockDuration;
                    var response = new HttpResponseMessage(HttpStatusCode.OK);
                    response.Headers.TryAddWithoutValidation("BrokerProperties",
                        JsonSerializer.Serialize(new Dictionary<string, object> { ["LockedUntilUtc"] = message.LockedUntil.UtcDateTime.ToString("R", CultureInfo.InvariantCulture) }));
                    return response;
                }

                return Status(HttpStatusCode.MethodNotAllowed, "");
            }
        }
        finally
        {
            signal?.TrySetResult();
        }
    }

    private TaskCompletionSource TakeSignal()
    {
        var signal = _changed;
        _changed = NewSignal();
        return signal;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static Dictionary<string, string> ParseQuery(string query) =>
        query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .ToDictionary(p => Uri.UnescapeDataString(p[0]), p => p.Length > 1 ? Uri.UnescapeDataString(p[1]) : "", StringComparer.OrdinalIgnoreCase);

    private static HttpResponseMessage Status(HttpStatusCode status, string detail) =>
        new(status) { Content = new StringContent($"<Error><Code>{(int)status}</Code><Detail>{WebUtility.HtmlEncode(detail)}</Detail></Error>") };

    internal enum EntityKind
    {
        Queue,
        Topic,
        Subscription,
        DeadLetterQueue,
    }

    private sealed class Entity(EntityKind kind, TimeSpan lockDuration, int maxDeliveryCount, string? forwardTo)
    {
        public EntityKind Kind { get; } = kind;

        public TimeSpan LockDuration { get; set; } = lockDuration;

        public int MaxDeliveryCount { get; set; } = maxDeliveryCount;

        /// <summary>Where new messages go; messages already held when an update sets it are not moved.</summary>
        public string? ForwardTo { get; set; } = forwardTo;

        /// <summary>Stored only (the fake has no sessions), and like the real service it cannot change on update.</summary>
        public bool RequiresSession { get; init; }

        /// <summary>Stored only: the fake does not forward dead letters.</summary>
        public string? ForwardDeadLetteredMessagesTo { get; set; }

        public List<StoredMessage> Messages { get; } = [];
    }

    /// <summary>A stored message; <see cref="Properties"/> holds raw header values (typed by their form).</summary>
    internal sealed record StoredMessage(
        long Sequence, byte[] Body, string MessageId, string? CorrelationId, Dictionary<string, string> Properties, DateTimeOffset EnqueuedAt, DateTimeOffset VisibleAt)
    {
        public int DeliveryCount { get; set; }

        public string? LockToken { get; set; }

        public DateTimeOffset LockedUntil { get; set; }
    }
}

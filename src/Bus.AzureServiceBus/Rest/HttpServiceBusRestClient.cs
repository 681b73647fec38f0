using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Xml;
using System.Xml.Linq;
using Bus.AzureServiceBus.Authentication;
using Bus.Transports;

namespace Bus.AzureServiceBus.Rest;

/// <summary>The Service Bus REST API over <see cref="HttpClient"/>: messages, peek-lock, and Atom management, with
/// retries and back-off for throttling (429, 503) and server errors.</summary>
internal sealed class HttpServiceBusRestClient : IServiceBusRestClient
{
    /// <summary>The management API version.</summary>
    public const string ApiVersion = "2021-05";

    private const string BatchContentType = "application/vnd.microsoft.servicebus.json";
    private const string AtomContentType = "application/atom+xml;type=entry;charset=utf-8";
    private static readonly XNamespace Atom = "http://www.w3.org/2005/Atom";

    /// <summary>The description elements naming a forwarding target, and the header that authorizes each.</summary>
    private static readonly (string Element, string Header)[] SupplementaryHeaders =
    [
        ("ForwardTo", "ServiceBusSupplementaryAuthorization"),
        ("ForwardDeadLetteredMessagesTo", "ServiceBusDlqSupplementaryAuthorization"),
    ];

    private readonly HttpClient _http;
    private readonly Uri _namespace;
    private readonly IAuthorizationProvider _authorization;
    private readonly TimeProvider _time;
    private readonly int _maxRetries;
    private readonly TimeSpan _retryDelay;
    private readonly long _maxBatchBytes;

    public HttpServiceBusRestClient(
        HttpClient http, Uri namespaceUri, IAuthorizationProvider authorization, TimeProvider time, int maxRetries, TimeSpan retryDelay, long maxBatchBytes)
    {
        _http = http;
        _namespace = namespaceUri;
        _authorization = authorization;
        _time = time;
        _maxRetries = maxRetries;
        _retryDelay = retryDelay;
        _maxBatchBytes = maxBatchBytes;
    }

    public async Task SendAsync(string entityPath, IReadOnlyList<OutgoingBrokerMessage> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        foreach (var batch in Batches(messages))
        {
            if (batch.Count == 1)
            {
                await SendOneAsync(entityPath, batch[0], cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await SendBatchAsync(entityPath, batch, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public async Task<LockedBrokerMessage?> PeekLockAsync(string entityPath, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var seconds = (long)Math.Ceiling(Math.Max(0, timeout.TotalSeconds));
        var uri = new Uri(_namespace, $"{entityPath}/messages/head?timeout={seconds.ToString(CultureInfo.InvariantCulture)}");
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Post, uri), entityPath, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is HttpStatusCode.NoContent)
        {
            return null;
        }

        if (response.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.OK))
        {
            throw await FailureAsync(response, entityPath, "receive from").ConfigureAwait(false);
        }

        var broker = ReadBrokerProperties(response) ?? new BrokerProperties();
        var lockUri = response.Headers.Location
            ?? throw new ServiceBusRequestException($"Service Bus returned a locked message from '{entityPath}' without a Location (lock URI).", response.StatusCode, entityPath);
        if (!lockUri.IsAbsoluteUri)
        {
            lockUri = new Uri(_namespace, lockUri);
        }

        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        return new LockedBrokerMessage(
            body,
            ReadProperties(response),
            broker.MessageId,
            broker.DeliveryCount ?? 1,
            broker.SequenceNumber ?? 0,
            BrokerProperties.ParseTime(broker.LockedUntilUtc) ?? _time.GetUtcNow(),
            BrokerProperties.ParseTime(broker.EnqueuedTimeUtc),
            lockUri);
    }

    public async Task<DateTimeOffset> RenewLockAsync(LockedBrokerMessage message, CancellationToken cancellationToken)
    {
        using var response = await LockOperationAsync(HttpMethod.Post, message, "renew the lock of", cancellationToken).ConfigureAwait(false);
        var broker = ReadBrokerProperties(response);
        return BrokerProperties.ParseTime(broker?.LockedUntilUtc)
            ?? throw new ServiceBusRequestException("Service Bus renewed a lock without returning LockedUntilUtc.", response.StatusCode, EntityOf(message.LockUri));
    }

    public async Task CompleteAsync(LockedBrokerMessage message, CancellationToken cancellationToken)
    {
        using var _ = await LockOperationAsync(HttpMethod.Delete, message, "complete", cancellationToken).ConfigureAwait(false);
    }

    public async Task UnlockAsync(LockedBrokerMessage message, CancellationToken cancellationToken)
    {
        using var _ = await LockOperationAsync(HttpMethod.Put, message, "unlock", cancellationToken).ConfigureAwait(false);
    }

    public async Task<EntityInfo?> GetEntityAsync(string entityPath, CancellationToken cancellationToken)
    {
        var uri = ManagementUri(entityPath);
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, uri), entityPath, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is HttpStatusCode.NotFound)
        {
            return null;
        }

        if (!response.IsSuccessStatusCode)
        {
            throw await FailureAsync(response, entityPath, "read the description of").ConfigureAwait(false);
        }

        // A missing entity comes back as an empty Atom feed rather than an entry.
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var root = XDocument.Parse(text).Root;
        if (root is null || root.Name != Atom + "entry")
        {
            return null;
        }

        string? Value(string name) => root.Descendants().FirstOrDefault(e => e.Name.LocalName == name)?.Value;
        var lockDuration = Value("LockDuration");
        var description = root.Element(Atom + "content")?.Elements().FirstOrDefault();
        return new EntityInfo(lockDuration is null ? null : XmlConvert.ToTimeSpan(lockDuration), EntityPathOf(Value("ForwardTo")), description);
    }

    public async Task<bool> CreateEntityAsync(string entityPath, string atomEntry, CancellationToken cancellationToken)
    {
        using var response = await PutEntityAsync(entityPath, atomEntry, update: false, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK)
        {
            return true;
        }

        if (response.StatusCode is HttpStatusCode.Conflict)
        {
            return false;
        }

        throw await FailureAsync(response, entityPath, "create").ConfigureAwait(false);
    }

    public async Task UpdateEntityAsync(string entityPath, string atomEntry, CancellationToken cancellationToken)
    {
        using var response = await PutEntityAsync(entityPath, atomEntry, update: true, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await FailureAsync(response, entityPath, "update").ConfigureAwait(false);
        }
    }

    public void Dispose() => _http.Dispose();

    private Uri ManagementUri(string entityPath) =>
        new(_namespace, $"{entityPath}?api-version={ApiVersion}");

    /// <summary>PUTs an entity description; an update says <c>If-Match: *</c>, as the management API requires to replace
    /// an existing entity (without it the answer is 409).</summary>
    private async Task<HttpResponseMessage> PutEntityAsync(string entityPath, string atomEntry, bool update, CancellationToken cancellationToken)
    {
        var uri = ManagementUri(entityPath);
        var supplementary = await SupplementaryAuthorizationAsync(atomEntry, cancellationToken).ConfigureAwait(false);
        return await SendAsync(
            () =>
            {
                var request = new HttpRequestMessage(HttpMethod.Put, uri)
                {
                    Content = new StringContent(atomEntry, Encoding.UTF8),
                };
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(AtomContentType);
                if (update)
                {
                    request.Headers.IfMatch.Add(EntityTagHeaderValue.Any);
                }

                foreach (var (name, value) in supplementary)
                {
                    request.Headers.TryAddWithoutValidation(name, value);
                }

                return request;
            },
            entityPath,
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creating or updating an entity that forwards (ForwardTo, ForwardDeadLetteredMessagesTo) needs proof of
    /// rights on each target besides the Manage right on the entity itself: a header per target, with a SAS token for
    /// it or, under Entra ID, <c>Bearer {token}</c>, as the Service Bus SDKs send them.</summary>
    private async Task<List<(string Name, string Value)>> SupplementaryAuthorizationAsync(string atomEntry, CancellationToken cancellationToken)
    {
        var headers = new List<(string, string)>();
        var description = XDocument.Parse(atomEntry).Root?.Descendants().ToList() ?? [];
        foreach (var (element, header) in SupplementaryHeaders)
        {
            var target = description.FirstOrDefault(e => e.Name.LocalName == element)?.Value;
            if (!string.IsNullOrWhiteSpace(target))
            {
                var targetUri = Uri.TryCreate(target, UriKind.Absolute, out var absolute) ? absolute : new Uri(_namespace, target.TrimStart('/'));
                headers.Add((header, await _authorization.GetSupplementaryAuthorizationAsync(targetUri, cancellationToken).ConfigureAwait(false)));
            }
        }

        return headers;
    }

    private async Task SendOneAsync(string entityPath, OutgoingBrokerMessage message, CancellationToken cancellationToken)
    {
        var uri = new Uri(_namespace, $"{entityPath}/messages");
        var broker = JsonSerializer.Serialize(ToBrokerProperties(message), RestJsonContext.Default.BrokerProperties);
        using var response = await SendAsync(
            () =>
            {
                var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(message.Body.ToArray()) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                request.Headers.TryAddWithoutValidation("BrokerProperties", broker);
                foreach (var (name, value) in PropertyHeaders.WithNameCasing(message.Properties))
                {
                    request.Headers.TryAddWithoutValidation(name, PropertyHeaders.EncodeString(value));
                }

                return request;
            },
            entityPath,
            cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.OK))
        {
            throw await FailureAsync(response, entityPath, "send to").ConfigureAwait(false);
        }
    }

    private async Task SendBatchAsync(string entityPath, List<OutgoingBrokerMessage> batch, CancellationToken cancellationToken)
    {
        var uri = new Uri(_namespace, $"{entityPath}/messages");
        var entries = batch.Select(m => new BatchEntry
        {
            Body = Encoding.UTF8.GetString(m.Body.Span),
            BrokerProperties = ToBrokerProperties(m),
            UserProperties = new Dictionary<string, string>(PropertyHeaders.WithNameCasing(m.Properties), StringComparer.Ordinal),
        }).ToList();
        var json = JsonSerializer.SerializeToUtf8Bytes(entries, RestJsonContext.Default.ListBatchEntry);
        using var response = await SendAsync(
            () =>
            {
                var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(json) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue(BatchContentType);
                return request;
            },
            entityPath,
            cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.OK))
        {
            throw await FailureAsync(response, entityPath, $"send a batch of {batch.Count} messages to").ConfigureAwait(false);
        }
    }

    /// <summary>Groups messages into batches: only UTF-8 text bodies can ride in a batch (its Body is a JSON string),
    /// and a batch stays under the size limit.</summary>
    private IEnumerable<List<OutgoingBrokerMessage>> Batches(IReadOnlyList<OutgoingBrokerMessage> messages)
    {
        var current = new List<OutgoingBrokerMessage>();
        long size = 0;
        foreach (var message in messages)
        {
            if (!IsUtf8Text(message.Body.Span))
            {
                if (current.Count > 0)
                {
                    yield return current;
                    current = [];
                    size = 0;
                }

                yield return [message];
                continue;
            }

            var estimate = EstimateBatchSize(message);
            if (current.Count > 0 && (size + estimate > _maxBatchBytes || current.Count == 100))
            {
                yield return current;
                current = [];
                size = 0;
            }

            current.Add(message);
            size += estimate;
        }

        if (current.Count > 0)
        {
            yield return current;
        }
    }

    private static long EstimateBatchSize(OutgoingBrokerMessage message)
    {
        long size = message.Body.Length * 2L + 256;
        foreach (var (key, value) in message.Properties)
        {
            size += Encoding.UTF8.GetByteCount(key) + (Encoding.UTF8.GetByteCount(value) * 2L) + 8;
        }

        return size;
    }

    private static bool IsUtf8Text(ReadOnlySpan<byte> body)
    {
        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            return false;
        }

        foreach (var b in body)
        {
            if (b < 0x20 && b is not ((byte)'\t' or (byte)'\n' or (byte)'\r'))
            {
                return false;
            }
        }

        return true;
    }

    private static BrokerProperties ToBrokerProperties(OutgoingBrokerMessage message) => new()
    {
        MessageId = message.MessageId,
        CorrelationId = message.CorrelationId,
        ScheduledEnqueueTimeUtc = message.ScheduledEnqueueTime is { } at ? BrokerProperties.FormatTime(RoundUpToSecond(at)) : null,
    };

    /// <summary>RFC 1123 carries whole seconds: round up so a message is never visible before it is due.</summary>
    private static DateTimeOffset RoundUpToSecond(DateTimeOffset time)
    {
        var remainder = time.UtcTicks % TimeSpan.TicksPerSecond;
        return remainder == 0 ? time : time.AddTicks(TimeSpan.TicksPerSecond - remainder);
    }

    private async Task<HttpResponseMessage> LockOperationAsync(HttpMethod method, LockedBrokerMessage message, string what, CancellationToken cancellationToken)
    {
        var entity = EntityOf(message.LockUri);
        var response = await SendAsync(() => new HttpRequestMessage(method, message.LockUri), entity, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            if (response.StatusCode is HttpStatusCode.NotFound)
            {
                throw new LeaseLostException(
                    $"Could not {what} message '{message.MessageId}' in '{entity}': its lock expired (the message may be delivered again) or it was already settled.");
            }

            throw await FailureAsync(response, entity, what + " a message in").ConfigureAwait(false);
        }
    }

    /// <summary>The entity path of a forwarding target, which Service Bus describes as an absolute URI
    /// (<c>https://{ns}/{entity}</c>) and clients may give as a name; null when there is none.</summary>
    private static string? EntityPathOf(string? target)
    {
        if (string.IsNullOrWhiteSpace(target))
        {
            return null;
        }

        var path = Uri.TryCreate(target.Trim(), UriKind.Absolute, out var absolute) ? absolute.AbsolutePath : target.Trim();
        return Uri.UnescapeDataString(path.Trim('/'));
    }

    private string EntityOf(Uri lockUri)
    {
        var path = lockUri.AbsolutePath.TrimStart('/');
        var index = path.IndexOf("/messages/", StringComparison.OrdinalIgnoreCase);
        return Uri.UnescapeDataString(index > 0 ? path[..index] : path);
    }

    /// <summary>Sends a request with authorization, retrying throttling, server errors and network failures with
    /// exponential back-off (or the server's Retry-After) on the injected clock.</summary>
    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> createRequest, string entityPath, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var request = createRequest();
            request.Headers.TryAddWithoutValidation("Authorization", await _authorization.GetAuthorizationAsync(request.RequestUri!, cancellationToken).ConfigureAwait(false));
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (attempt < _maxRetries)
            {
                _ = e;
                await BackOffAsync(attempt, null, cancellationToken).ConfigureAwait(false);
                continue;
            }
            catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested && attempt < _maxRetries)
            {
                _ = e; // HttpClient timeout
                await BackOffAsync(attempt, null, cancellationToken).ConfigureAwait(false);
                continue;
            }
            catch (HttpRequestException e)
            {
                throw new ServiceBusRequestException($"Could not reach Service Bus for '{entityPath}' after {attempt + 1} attempts: {e.Message}", null, entityPath, e);
            }

            if (IsTransient(response.StatusCode) && attempt < _maxRetries)
            {
                var retryAfter = response.Headers.RetryAfter?.Delta;
                response.Dispose();
                await BackOffAsync(attempt, retryAfter, cancellationToken).ConfigureAwait(false);
                continue;
            }

            return response;
        }
    }

    private static bool IsTransient(HttpStatusCode status) =>
        status is HttpStatusCode.TooManyRequests or HttpStatusCode.InternalServerError or HttpStatusCode.BadGateway
            or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout or HttpStatusCode.RequestTimeout;

    private Task BackOffAsync(int attempt, TimeSpan? retryAfter, CancellationToken cancellationToken)
    {
        var exponential = _retryDelay * Math.Pow(2, Math.Min(attempt, 10));
        var jitter = 0.8 + (Random.Shared.NextDouble() * 0.4);
        var delay = retryAfter is { } after && after > TimeSpan.Zero ? after : exponential * jitter;
        if (delay > TimeSpan.FromSeconds(30))
        {
            delay = TimeSpan.FromSeconds(30);
        }

        return Task.Delay(delay, _time, cancellationToken);
    }

    private static async Task<ServiceBusRequestException> FailureAsync(HttpResponseMessage response, string entityPath, string what)
    {
        string detail;
        try
        {
            detail = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
            detail = "";
        }

        if (detail.Length > 500)
        {
            detail = detail[..500];
        }

        var status = (int)response.StatusCode;
        var message = response.StatusCode switch
        {
            HttpStatusCode.NotFound => $"Could not {what} '{entityPath}': the entity does not exist (404). Provision it (ProvisioningMode.CreateIfMissing) or create it.",
            HttpStatusCode.Gone => $"Could not {what} '{entityPath}': the entity no longer exists (410 Gone); it was deleted while in use.",
            HttpStatusCode.Unauthorized => $"Could not {what} '{entityPath}': Service Bus rejected the credentials (401). Check the key or the Entra ID token.",
            HttpStatusCode.Forbidden => $"Could not {what} '{entityPath}': the identity lacks the right for this operation (403), e.g. Send, Listen or Manage.",
            HttpStatusCode.RequestEntityTooLarge => $"Could not {what} '{entityPath}': the message is larger than the entity accepts (413).",
            _ => $"Could not {what} '{entityPath}': Service Bus answered {status} {response.ReasonPhrase}.",
        };
        if (detail.Length > 0)
        {
            message += " " + detail;
        }

        return new ServiceBusRequestException(message, response.StatusCode, entityPath);
    }

    private static BrokerProperties? ReadBrokerProperties(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("BrokerProperties", out var values))
        {
            return null;
        }

        var json = string.Join(",", values);
        return JsonSerializer.Deserialize(json, RestJsonContext.Default.BrokerProperties);
    }

    private static Dictionary<string, string> ReadProperties(HttpResponseMessage response)
    {
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, values) in response.Headers.NonValidated)
        {
            if (PropertyHeaders.IsReserved(name))
            {
                continue;
            }

            var raw = string.Join(", ", values);
            if (!PropertyHeaders.LooksTyped(raw))
            {
                continue;
            }

            properties[name] = PropertyHeaders.ToHeaderString(PropertyHeaders.Decode(raw));
        }

        PropertyHeaders.RestoreNameCasing(properties);
        return properties;
    }
}

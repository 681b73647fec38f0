using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bus.Aws.Signing;

namespace Bus.Aws.Http;

/// <summary>
/// Calls one AWS service over its JSON protocol: POST of a JSON body with <c>X-Amz-Target: {prefix}.{operation}</c>,
/// signed with SigV4; throttling, 5xx and network failures are retried with exponential back-off and jitter.
/// Disposing it disposes its <see cref="HttpClient"/> (which cancels calls under way; the client disposes its handler
/// only when it built it, never one the options gave).
/// </summary>
internal sealed class AwsJsonChannel(
    string service,
    string targetPrefix,
    string contentType,
    Uri endpoint,
    string region,
    ICredentialSource credentials,
    HttpClient http,
    int retries,
    TimeSpan requestTimeout,
    TimeProvider time) : IDisposable
{
    /// <summary>Calls <paramref name="operation"/> and returns the parsed response body.</summary>
    /// <exception cref="AwsServiceException">The service returned an error, or retries ran out.</exception>
    public async Task<JsonElement> CallAsync(string operation, JsonObject request, CancellationToken cancellationToken)
    {
        var payload = Encoding.UTF8.GetBytes(request.ToJsonString());
        var payloadHash = SigV4Signer.HexSha256(payload);
        for (var attempt = 0; ; attempt++)
        {
            AwsServiceException failure;
            try
            {
                using var timeout = new CancellationTokenSource(requestTimeout, time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
                using var message = await BuildAsync(operation, payload, payloadHash, cancellationToken).ConfigureAwait(false);
                using var response = await http.SendAsync(message, linked.Token).ConfigureAwait(false);
                var body = await response.Content.ReadAsByteArrayAsync(linked.Token).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return body.Length == 0 ? JsonDocument.Parse("{}").RootElement : JsonDocument.Parse(body).RootElement;
                }

                var (code, text) = ParseError(body, response.StatusCode);
                failure = new AwsServiceException(service, operation, code, text, (int)response.StatusCode);
                if (!IsRetryable(response.StatusCode, code))
                {
                    throw failure;
                }
            }
            catch (HttpRequestException e)
            {
                failure = new AwsServiceException(service, operation, "NetworkError", e.Message, null, e);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                failure = new AwsServiceException(service, operation, "RequestTimeout", $"no answer within {requestTimeout}", null, e);
            }

            if (attempt >= retries)
            {
                throw failure;
            }

            var ceiling = Math.Min(5000, 100 * Math.Pow(2, attempt));
            await Task.Delay(TimeSpan.FromMilliseconds(ceiling * (0.5 + (Random.Shared.NextDouble() / 2))), time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Throttling and server errors are retried; 501 is not.</summary>
    internal static bool IsRetryable(HttpStatusCode status, string code) =>
        status == HttpStatusCode.TooManyRequests
        || ((int)status >= 500 && status != HttpStatusCode.NotImplemented)
        || code is "ThrottlingException" or "Throttling" or "RequestLimitExceeded" or "TooManyRequestsException" or "ServiceUnavailable";

    private static (string Code, string Message) ParseError(byte[] body, HttpStatusCode status)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var code = root.TryGetProperty("__type", out var type) ? type.GetString() ?? string.Empty : string.Empty;
            code = code[(code.LastIndexOf('#') + 1)..];
            var message = root.TryGetProperty("message", out var m) || root.TryGetProperty("Message", out m) ? m.GetString() : null;
            return (code.Length > 0 ? code : status.ToString(), message ?? string.Empty);
        }
        catch (JsonException)
        {
            return (status.ToString(), Encoding.UTF8.GetString(body));
        }
    }

    private async Task<HttpRequestMessage> BuildAsync(string operation, byte[] payload, string payloadHash, CancellationToken cancellationToken)
    {
        var creds = await credentials.GetAsync(cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        var amzDate = SigV4Signer.AmzDate(now);
        var target = $"{targetPrefix}.{operation}";
        var host = endpoint.IsDefaultPort ? endpoint.IdnHost : $"{endpoint.IdnHost}:{endpoint.Port}";
        var signed = new List<KeyValuePair<string, string>>
        {
            new("host", host),
            new("x-amz-date", amzDate),
            new("content-type", contentType),
            new("x-amz-target", target),
        };
        if (creds.SessionToken is not null)
        {
            signed.Add(new("x-amz-security-token", creds.SessionToken));
        }

        var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(payload) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        request.Headers.TryAddWithoutValidation("X-Amz-Date", amzDate);
        request.Headers.TryAddWithoutValidation("X-Amz-Target", target);
        if (creds.SessionToken is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Amz-Security-Token", creds.SessionToken);
        }

        request.Headers.TryAddWithoutValidation("Authorization", SigV4Signer.Authorization("POST", endpoint, signed, payloadHash, region, service, creds, now));
        return request;
    }

    /// <summary>Disposes the HTTP client; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose() => http.Dispose();

    /// <summary>Builds the channel of <paramref name="service"/> from the options.</summary>
    public static AwsJsonChannel Create(AwsClientOptions options, string service, string targetPrefix, string contentType, TimeProvider time)
    {
        options.Validate();
        var region = options.ResolveRegion();
        var endpoint = options.ServiceUrl ?? new Uri($"https://{service}.{region}.amazonaws.com/");
        var handler = options.HttpHandler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        var http = new HttpClient(handler, disposeHandler: options.HttpHandler is null) { Timeout = Timeout.InfiniteTimeSpan };
        return new AwsJsonChannel(service, targetPrefix, contentType, endpoint, region, new SdkCredentialSource(options.Credentials), http,
            options.MaxErrorRetry, options.RequestTimeout, time);
    }
}

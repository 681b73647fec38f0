using System.Net;
using Bus.Aws.Signing;
using Microsoft.Extensions.Logging;

namespace Bus.AmazonSqs.Http;

/// <summary>A response body and the parts of the response error parsing needs.</summary>
internal sealed record AwsResponse(HttpStatusCode StatusCode, byte[] Body, string? QueryError);

/// <summary>An error code and message read from an error response.</summary>
internal sealed record AwsError(string Code, string Message);

/// <summary>How failed requests are retried.</summary>
/// <param name="Retries">Retries after the first attempt.</param>
/// <param name="BaseDelay">The first back-off; doubled per retry.</param>
/// <param name="MaxDelay">The longest back-off.</param>
/// <param name="RequestTimeout">Time allowed for one request on top of any long-poll wait.</param>
internal sealed record RetrySettings(int Retries, TimeSpan BaseDelay, TimeSpan MaxDelay, TimeSpan RequestTimeout);

/// <summary>
/// Signs and sends requests of one AWS service to its endpoint, retrying throttling, 5xx, network failures and
/// timeouts with exponential back-off and jitter. Protocol clients (JSON, Query) sit on top.
/// </summary>
internal sealed class AwsHttpChannel(
    string service,
    Uri endpoint,
    string region,
    ICredentialSource credentials,
    HttpClient http,
    RetrySettings retry,
    TimeProvider time,
    ILogger logger)
{
    private static readonly HashSet<string> ThrottlingCodes = new(StringComparer.Ordinal)
    {
        "RequestThrottled", "ThrottlingException", "Throttling", "Throttled", "ThrottledException",
        "TooManyRequestsException", "RequestLimitExceeded", "SlowDown", "ServiceUnavailable",
        "InternalError", "InternalFailure", "KMSThrottlingException",
    };

    public string Service => service;

    /// <summary>Sends one request and returns the body of its 2xx response.</summary>
    /// <param name="operation">The operation name, for errors and logs.</param>
    /// <param name="payload">The request body.</param>
    /// <param name="contentType">The request content type.</param>
    /// <param name="target">The X-Amz-Target header (JSON protocols), or null.</param>
    /// <param name="parseError">Reads code and message from an error response.</param>
    /// <param name="longPoll">Extra time the service may hold the request (long polling).</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    public async Task<byte[]> SendAsync(
        string operation, byte[] payload, string contentType, string? target, Func<AwsResponse, AwsError> parseError,
        TimeSpan longPoll, CancellationToken cancellationToken)
    {
        var payloadHash = SigV4Signer.HexSha256(payload);
        for (var attempt = 0; ; attempt++)
        {
            Exception failure;
            try
            {
                using var timeout = new CancellationTokenSource(retry.RequestTimeout + longPoll, time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
                using var request = await BuildRequestAsync(payload, payloadHash, contentType, target, cancellationToken).ConfigureAwait(false);
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, linked.Token).ConfigureAwait(false);
                var body = await response.Content.ReadAsByteArrayAsync(linked.Token).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return body;
                }

                var queryError = response.Headers.TryGetValues("x-amzn-query-error", out var values) ? values.FirstOrDefault() : null;
                var error = parseError(new AwsResponse(response.StatusCode, body, queryError));
                var exception = new AmazonSqsException(service, operation, error.Code, error.Message, response.StatusCode);
                if (!IsRetryable(response.StatusCode, error.Code))
                {
                    throw exception;
                }

                failure = exception;
            }
            catch (HttpRequestException e)
            {
                failure = e;
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                failure = new TimeoutException($"{service.ToUpperInvariant()} {operation} timed out.", e);
            }

            if (attempt >= retry.Retries)
            {
                throw failure as AmazonSqsException
                    ?? new AmazonSqsException(service, operation, failure is TimeoutException ? "RequestTimeout" : "NetworkError", failure.Message, null, failure);
            }

            var delay = Backoff(attempt);
            logger.LogDebug(failure, "{Service} {Operation} failed (attempt {Attempt}); retrying in {Delay}", service, operation, attempt + 1, delay);
            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Throttling and server errors are retried; 501 Not Implemented is not (it will not change).</summary>
    internal static bool IsRetryable(HttpStatusCode status, string code) =>
        status == HttpStatusCode.TooManyRequests || ((int)status >= 500 && status != HttpStatusCode.NotImplemented) || ThrottlingCodes.Contains(code);

    private TimeSpan Backoff(int attempt)
    {
        var ceiling = Math.Min(retry.MaxDelay.TotalMilliseconds, retry.BaseDelay.TotalMilliseconds * Math.Pow(2, attempt));
        return TimeSpan.FromMilliseconds(ceiling * (0.5 + (Random.Shared.NextDouble() / 2)));
    }

    private async Task<HttpRequestMessage> BuildRequestAsync(
        byte[] payload, string payloadHash, string contentType, string? target, CancellationToken cancellationToken)
    {
        var creds = await credentials.GetAsync(cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        var amzDate = SigV4Signer.AmzDate(now);
        var host = endpoint.IsDefaultPort ? endpoint.IdnHost : $"{endpoint.IdnHost}:{endpoint.Port}";
        var signed = new List<KeyValuePair<string, string>>
        {
            new("host", host),
            new("x-amz-date", amzDate),
            new("content-type", contentType),
        };
        if (target is not null)
        {
            signed.Add(new("x-amz-target", target));
        }

        if (creds.SessionToken is not null)
        {
            signed.Add(new("x-amz-security-token", creds.SessionToken));
        }

        var authorization = SigV4Signer.Authorization("POST", endpoint, signed, payloadHash, region, service, creds, now);
        var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(payload) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        request.Headers.TryAddWithoutValidation("X-Amz-Date", amzDate);
        if (target is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Amz-Target", target);
        }

        if (creds.SessionToken is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Amz-Security-Token", creds.SessionToken);
        }

        request.Headers.TryAddWithoutValidation("Authorization", authorization);
        return request;
    }
}

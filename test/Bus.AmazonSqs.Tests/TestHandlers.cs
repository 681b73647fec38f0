using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace Bus.AmazonSqs.Tests;

/// <summary>Counts requests per operation (X-Amz-Target for SQS, Action for SNS) on their way to the real peer.</summary>
internal sealed class CountingHandler() : DelegatingHandler(new SocketsHttpHandler())
{
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);

    public int Total => _counts.Values.Sum();

    public int Count(string operation) => _counts.TryGetValue(operation, out var n) ? n : 0;

    public void Reset() => _counts.Clear();

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        _counts.AddOrUpdate(await OperationOf(request).ConfigureAwait(false), 1, (_, n) => n + 1);
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    internal static async Task<string> OperationOf(HttpRequestMessage request)
    {
        if (request.Headers.TryGetValues("X-Amz-Target", out var targets))
        {
            return targets.First().Replace("AmazonSQS.", string.Empty, StringComparison.Ordinal);
        }

        var form = request.Content is null ? string.Empty : await request.Content.ReadAsStringAsync().ConfigureAwait(false);
        var action = form.Split('&').FirstOrDefault(p => p.StartsWith("Action=", StringComparison.Ordinal));
        return action?["Action=".Length..] ?? "?";
    }
}

/// <summary>Answers every request from a script, recording what was asked.</summary>
internal sealed class ScriptedHandler(Func<string, string, int, HttpResponseMessage> respond) : HttpMessageHandler
{
    private int _calls;

    public List<(string Operation, string Body, HttpRequestMessage Request)> Requests { get; } = [];

    public static HttpResponseMessage Json(HttpStatusCode status, string json, string? queryError = null)
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(json, Encoding.UTF8, "application/x-amz-json-1.0") };
        if (queryError is not null)
        {
            response.Headers.TryAddWithoutValidation("x-amzn-query-error", queryError);
        }

        return response;
    }

    public static HttpResponseMessage Xml(HttpStatusCode status, string xml) =>
        new(status) { Content = new StringContent(xml, Encoding.UTF8, "text/xml") };

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var operation = await CountingHandler.OperationOf(request).ConfigureAwait(false);
        var body = request.Content is null ? string.Empty : await request.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        lock (Requests)
        {
            Requests.Add((operation, body, request));
        }

        return respond(operation, body, Interlocked.Increment(ref _calls));
    }
}

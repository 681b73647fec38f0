using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Bus.AmazonSqs.Tests;

/// <summary>Counts requests per operation (X-Amz-Target for SQS, Action for SNS) on their way to the real peer, and
/// the entries (messages, receipt handles) of SQS requests that succeeded, with signals on the latter.</summary>
internal sealed class CountingHandler() : DelegatingHandler(new SocketsHttpHandler())
{
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _entries = new(StringComparer.Ordinal);
    private readonly List<(string[] Operations, int AtLeast, TaskCompletionSource Done)> _waiters = [];

    public int Total => _counts.Values.Sum();

    public int Count(string operation) => _counts.TryGetValue(operation, out var n) ? n : 0;

    /// <summary>Entries of the successful requests of <paramref name="operations"/>: a batch call counts its entries,
    /// any other call one.</summary>
    public int Entries(params string[] operations) => operations.Sum(o => _entries.TryGetValue(o, out var n) ? n : 0);

    /// <summary>A snapshot of the request counts per operation.</summary>
    public Dictionary<string, int> Snapshot() => new(_counts, StringComparer.Ordinal);

    /// <summary>Completes when the successful requests of <paramref name="operations"/> carried at least
    /// <paramref name="atLeast"/> entries since the last <see cref="Reset"/>.</summary>
    public Task WhenEntriesAsync(int atLeast, params string[] operations)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiters)
        {
            _waiters.Add((operations, atLeast, done));
        }

        Check();
        return done.Task;
    }

    public void Reset()
    {
        _counts.Clear();
        _entries.Clear();
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var operation = await OperationOf(request).ConfigureAwait(false);
        _counts.AddOrUpdate(operation, 1, (_, n) => n + 1);
        var entries = request.Headers.Contains("X-Amz-Target") ? await EntriesOf(operation, request).ConfigureAwait(false) : 0;
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (entries > 0 && response.IsSuccessStatusCode)
        {
            _entries.AddOrUpdate(operation, entries, (_, n) => n + entries);
            Check();
        }

        return response;
    }

    private static async Task<int> EntriesOf(string operation, HttpRequestMessage request)
    {
        if (!operation.EndsWith("Batch", StringComparison.Ordinal) || request.Content is null)
        {
            return 1;
        }

        using var body = JsonDocument.Parse(await request.Content.ReadAsStringAsync().ConfigureAwait(false));
        return body.RootElement.TryGetProperty("Entries", out var list) ? list.GetArrayLength() : 1;
    }

    private void Check()
    {
        lock (_waiters)
        {
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (Entries(_waiters[i].Operations) >= _waiters[i].AtLeast)
                {
                    _waiters[i].Done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
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

/// <summary>The SDK's HTTP client factory hook, sending every request of the transport's clients through
/// <paramref name="handler"/> (counting, scripting).</summary>
internal sealed class HandlerClientFactory(HttpMessageHandler handler) : Amazon.Runtime.HttpClientFactory
{
    public override HttpClient CreateHttpClient(Amazon.Runtime.IClientConfig clientConfig) =>
        new(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };

    public override bool UseSDKHttpClientCaching(Amazon.Runtime.IClientConfig clientConfig) => false;

    public override bool DisposeHttpClientsAfterUse(Amazon.Runtime.IClientConfig clientConfig) => false;
}

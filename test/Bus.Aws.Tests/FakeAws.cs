using System.Net;
using System.Text;
using System.Text.Json;

namespace Bus.Aws.Tests;

/// <summary>One request as the fake AWS endpoint saw it.</summary>
public sealed record SeenRequest(string Target, string ContentType, string Authorization, JsonElement Body);

/// <summary>An HTTP handler that answers AWS JSON-protocol calls by X-Amz-Target and records every request.</summary>
public sealed class FakeAws : HttpMessageHandler
{
    private readonly Dictionary<string, Queue<(HttpStatusCode Status, string Body)>> _answers = new(StringComparer.Ordinal);

    public List<SeenRequest> Requests { get; } = [];

    /// <summary>Queues the answer to the next call of <paramref name="target"/> (e.g. "AWSEvents.PutRule").</summary>
    public FakeAws Answer(string target, string body, HttpStatusCode status = HttpStatusCode.OK)
    {
        if (!_answers.TryGetValue(target, out var queue))
        {
            _answers[target] = queue = new();
        }

        queue.Enqueue((status, body));
        return this;
    }

    public IEnumerable<SeenRequest> Calls(string target) => Requests.Where(r => r.Target == target);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var target = request.Headers.GetValues("X-Amz-Target").Single();
        var body = await request.Content!.ReadAsStringAsync(cancellationToken);
        Requests.Add(new SeenRequest(target, request.Content.Headers.ContentType!.ToString(), request.Headers.GetValues("Authorization").Single(), JsonDocument.Parse(body).RootElement.Clone()));
        if (!_answers.TryGetValue(target, out var queue) || queue.Count == 0)
        {
            return new HttpResponseMessage(HttpStatusCode.BadRequest)
            {
                Content = new StringContent($$"""{"__type":"UnexpectedCall","message":"no answer queued for {{target}}"}""", Encoding.UTF8, "application/x-amz-json-1.1"),
            };
        }

        var (status, answer) = queue.Dequeue();
        return new HttpResponseMessage(status) { Content = new StringContent(answer, Encoding.UTF8, "application/x-amz-json-1.1") };
    }
}

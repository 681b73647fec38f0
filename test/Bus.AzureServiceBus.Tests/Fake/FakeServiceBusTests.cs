using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Bus.AzureServiceBus.Authentication;
using Bus.AzureServiceBus.Management;
using Bus.Testing;

namespace Bus.AzureServiceBus.Tests.Fake;

/// <summary>The fake's behaviours, checked against the documented REST contract with raw HTTP requests.</summary>
public sealed class FakeServiceBusTests : IDisposable
{
    private const string Base = "https://" + FakeServiceBus.Host + "/";
    private readonly ManualTimeProvider _time = new();
    private readonly FakeServiceBus _fake;
    private readonly HttpClient _http;
    private readonly SasTokenProvider _sas;

    public FakeServiceBusTests()
    {
        _fake = new FakeServiceBus(_time);
        _http = new HttpClient(_fake, disposeHandler: false);
        _sas = new SasTokenProvider(FakeServiceBus.KeyName, FakeServiceBus.Key, new Uri(Base), _time);
    }

    public void Dispose()
    {
        _http.Dispose();
        _fake.Dispose();
    }

    [Fact]
    public async Task Create_answers_201_then_409_when_the_entity_exists()
    {
        Assert.Equal(HttpStatusCode.Created, (await CreateQueueAsync("q", TimeSpan.FromSeconds(30), 3)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await CreateQueueAsync("q", TimeSpan.FromSeconds(30), 3)).StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(30), _fake.LockDurationOf("q"));
        Assert.Equal(3, _fake.MaxDeliveryCountOf("q"));
    }

    [Fact]
    public async Task Create_rejects_elements_out_of_schema_order()
    {
        var atom = EntityDescriptions.Queue(TimeSpan.FromSeconds(30), 3)
            .Replace("<LockDuration>PT30S</LockDuration>", "", StringComparison.Ordinal)
            .Replace("</QueueDescription>", "<LockDuration>PT30S</LockDuration></QueueDescription>", StringComparison.Ordinal);

        var response = await SendAsync(HttpMethod.Put, "q?api-version=2021-05", atom, "application/atom+xml");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(_fake.Exists("q"));
    }

    [Fact]
    public async Task Get_of_a_missing_entity_is_an_empty_feed_and_of_an_existing_one_an_entry()
    {
        var missing = await (await SendAsync(HttpMethod.Get, "nope?api-version=2021-05")).Content.ReadAsStringAsync();
        await CreateQueueAsync("q");
        var existing = await (await SendAsync(HttpMethod.Get, "q?api-version=2021-05")).Content.ReadAsStringAsync();

        Assert.Contains("<feed", missing, StringComparison.Ordinal);
        Assert.Contains("<entry", existing, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Peek_lock_returns_201_with_lock_uri_broker_properties_and_custom_properties()
    {
        await CreateQueueAsync("q", TimeSpan.FromSeconds(30));
        var send = Request(HttpMethod.Post, "q/messages", "payload");
        send.Headers.TryAddWithoutValidation("BrokerProperties", "{\"MessageId\":\"m-1\"}");
        send.Headers.TryAddWithoutValidation("tenant", "\"t-1\"");
        Assert.Equal(HttpStatusCode.Created, (await _http.SendAsync(send)).StatusCode);

        var response = await SendAsync(HttpMethod.Post, "q/messages/head?timeout=0");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("payload", await response.Content.ReadAsStringAsync());
        Assert.Matches($"^{Base}q/messages/[0-9]+/[0-9a-f-]+$", response.Headers.Location!.AbsoluteUri);
        Assert.Equal("\"t-1\"", response.Headers.GetValues("tenant").Single());
        var broker = Broker(response);
        Assert.Equal(1, broker.GetProperty("DeliveryCount").GetInt32());
        Assert.Equal("m-1", broker.GetProperty("MessageId").GetString());
        Assert.Equal(Rfc1123(_time.GetUtcNow() + TimeSpan.FromSeconds(30)), broker.GetProperty("LockedUntilUtc").GetString());
    }

    [Fact]
    public async Task Empty_receive_answers_204_after_the_timeout_on_the_clock()
    {
        await CreateQueueAsync("q");
        var start = _time.GetUtcNow();

        var response = await FakeTransports.RunAsync(_time, SendAsync(HttpMethod.Post, "q/messages/head?timeout=3"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.True(_time.GetUtcNow() - start >= TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task A_waiting_receive_gets_a_message_sent_meanwhile()
    {
        await CreateQueueAsync("q");
        var receive = SendAsync(HttpMethod.Post, "q/messages/head?timeout=30");
        Assert.False(receive.IsCompleted);

        await SendAsync(HttpMethod.Post, "q/messages", "late");

        var response = await receive.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task Scheduled_message_is_invisible_until_its_time()
    {
        await CreateQueueAsync("q");
        var send = Request(HttpMethod.Post, "q/messages", "later");
        send.Headers.TryAddWithoutValidation("BrokerProperties", $"{{\"ScheduledEnqueueTimeUtc\":\"{Rfc1123(_time.GetUtcNow().AddSeconds(10))}\"}}");
        await _http.SendAsync(send);

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(HttpMethod.Post, "q/messages/head?timeout=0")).StatusCode);
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.Created, (await SendAsync(HttpMethod.Post, "q/messages/head?timeout=0")).StatusCode);
    }

    [Fact]
    public async Task Lock_operations_answer_200_and_404_once_the_lock_is_lost()
    {
        await CreateQueueAsync("q", TimeSpan.FromSeconds(10));
        await SendAsync(HttpMethod.Post, "q/messages", "x");
        var first = (await SendAsync(HttpMethod.Post, "q/messages/head?timeout=0")).Headers.Location!;

        _time.Advance(TimeSpan.FromSeconds(6));
        var renew = await SendAsync(HttpMethod.Post, first.PathAndQuery.TrimStart('/'));
        Assert.Equal(HttpStatusCode.OK, renew.StatusCode);
        Assert.Equal(Rfc1123(_time.GetUtcNow().AddSeconds(10)), Broker(renew).GetProperty("LockedUntilUtc").GetString());

        _time.Advance(TimeSpan.FromSeconds(10)); // lock expires
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Delete, first.PathAndQuery.TrimStart('/'))).StatusCode);
        var second = await SendAsync(HttpMethod.Post, "q/messages/head?timeout=0");
        Assert.Equal(2, Broker(second).GetProperty("DeliveryCount").GetInt32());
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Put, second.Headers.Location!.PathAndQuery.TrimStart('/'))).StatusCode);
        var third = await SendAsync(HttpMethod.Post, "q/messages/head?timeout=0");
        Assert.Equal(3, Broker(third).GetProperty("DeliveryCount").GetInt32());
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Delete, third.Headers.Location!.PathAndQuery.TrimStart('/'))).StatusCode);
        Assert.Empty(_fake.MessagesIn("q"));
    }

    [Fact]
    public async Task Lock_operation_on_a_deleted_entity_answers_410()
    {
        await CreateQueueAsync("q");
        await SendAsync(HttpMethod.Post, "q/messages", "x");
        var lockUri = (await SendAsync(HttpMethod.Post, "q/messages/head?timeout=0")).Headers.Location!;
        _fake.Delete("q");

        Assert.Equal(HttpStatusCode.Gone, (await SendAsync(HttpMethod.Delete, lockUri.PathAndQuery.TrimStart('/'))).StatusCode);
    }

    [Fact]
    public async Task Max_delivery_count_moves_the_message_to_the_dead_letter_subqueue_with_the_reason()
    {
        await CreateQueueAsync("q", TimeSpan.FromSeconds(10), maxDeliveryCount: 2);
        await SendAsync(HttpMethod.Post, "q/messages", "poison");
        for (var i = 0; i < 2; i++)
        {
            var locked = await SendAsync(HttpMethod.Post, "q/messages/head?timeout=0");
            await SendAsync(HttpMethod.Put, locked.Headers.Location!.PathAndQuery.TrimStart('/'));
        }

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(HttpMethod.Post, "q/messages/head?timeout=0")).StatusCode);
        var dead = await SendAsync(HttpMethod.Post, "q/$DeadLetterQueue/messages/head?timeout=0");
        Assert.Equal(HttpStatusCode.Created, dead.StatusCode);
        Assert.Equal("\"MaxDeliveryCountExceeded\"", dead.Headers.GetValues("DeadLetterReason").Single());
        Assert.Equal("poison", await dead.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Topic_subscription_forwards_into_the_queue()
    {
        await CreateQueueAsync("q");
        await SendAsync(HttpMethod.Put, "t?api-version=2021-05", EntityDescriptions.Topic(), "application/atom+xml");
        var sub = Request(HttpMethod.Put, "t/Subscriptions/s?api-version=2021-05",
            EntityDescriptions.Subscription(TimeSpan.FromSeconds(30), 10, Base + "q"), "application/atom+xml");
        sub.Headers.TryAddWithoutValidation("ServiceBusSupplementaryAuthorization", _sas.GetToken(Base + "q"));
        Assert.Equal(HttpStatusCode.Created, (await _http.SendAsync(sub)).StatusCode);

        await SendAsync(HttpMethod.Post, "t/messages", "event");

        Assert.Equal("q", _fake.ForwardTo("t/Subscriptions/s"));
        Assert.Single(_fake.MessagesIn("q"));
        Assert.Empty(_fake.MessagesIn("t/Subscriptions/s"));
    }

    [Theory]
    [InlineData("sas")]
    [InlineData("bearer")]
    public async Task Forwarding_needs_a_supplementary_authorization_for_its_target_under_either_scheme(string scheme)
    {
        await CreateQueueAsync("q");
        await SendAsync(HttpMethod.Put, "t?api-version=2021-05", EntityDescriptions.Topic(), "application/atom+xml");
        var authorization = scheme == "sas" ? _sas.GetToken(Base) : "Bearer entra-token";
        var supplementary = scheme == "sas" ? _sas.GetToken(Base + "q") : "Bearer entra-token";
        HttpRequestMessage Subscription(string? header)
        {
            var request = new HttpRequestMessage(HttpMethod.Put, Base + "t/Subscriptions/s?api-version=2021-05")
            {
                Content = new StringContent(EntityDescriptions.Subscription(TimeSpan.FromSeconds(30), 10, Base + "q"), Encoding.UTF8, "application/atom+xml"),
            };
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
            if (header is not null)
            {
                request.Headers.TryAddWithoutValidation("ServiceBusSupplementaryAuthorization", header);
            }

            return request;
        }

        var without = await _http.SendAsync(Subscription(null));
        var empty = await _http.SendAsync(Subscription("Bearer "));
        Assert.False(_fake.Exists("t/Subscriptions/s"));
        var with = await _http.SendAsync(Subscription(supplementary));

        Assert.Equal(HttpStatusCode.Unauthorized, without.StatusCode);
        Assert.Contains("ServiceBusSupplementaryAuthorization", await without.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, empty.StatusCode);
        Assert.Equal(HttpStatusCode.Created, with.StatusCode);
        Assert.Equal("q", _fake.ForwardTo("t/Subscriptions/s"));
    }

    [Fact]
    public async Task A_sas_supplementary_token_must_cover_the_target()
    {
        await CreateQueueAsync("q");
        await CreateQueueAsync("other");
        var request = Request(HttpMethod.Put, "source?api-version=2021-05", ForwardingQueue("ForwardTo", Base + "q"), "application/atom+xml");
        request.Headers.TryAddWithoutValidation("ServiceBusSupplementaryAuthorization", _sas.GetToken(Base + "other"));

        var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.False(_fake.Exists("source"));
    }

    [Fact]
    public async Task Forwarding_dead_letters_needs_the_dlq_supplementary_authorization()
    {
        await CreateQueueAsync("errors");
        var atom = ForwardingQueue("ForwardDeadLetteredMessagesTo", Base + "errors");
        var wrongHeader = Request(HttpMethod.Put, "q?api-version=2021-05", atom, "application/atom+xml");
        wrongHeader.Headers.TryAddWithoutValidation("ServiceBusSupplementaryAuthorization", _sas.GetToken(Base + "errors"));
        var rightHeader = Request(HttpMethod.Put, "q?api-version=2021-05", atom, "application/atom+xml");
        rightHeader.Headers.TryAddWithoutValidation("ServiceBusDlqSupplementaryAuthorization", _sas.GetToken(Base + "errors"));

        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.SendAsync(wrongHeader)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await _http.SendAsync(rightHeader)).StatusCode);
        Assert.Equal("errors", _fake.ForwardDeadLetteredMessagesTo("q"));
    }

    [Fact]
    public async Task Update_needs_if_match_and_replaces_the_description_described_with_an_absolute_forward_to()
    {
        await CreateQueueAsync("q");
        await CreateQueueAsync("other");
        await SendAsync(HttpMethod.Put, "t?api-version=2021-05", EntityDescriptions.Topic(), "application/atom+xml");
        HttpRequestMessage Subscription(string target, bool ifMatch)
        {
            var request = Request(HttpMethod.Put, "t/Subscriptions/s?api-version=2021-05",
                EntityDescriptions.Subscription(TimeSpan.FromSeconds(30), 10, Base + target), "application/atom+xml");
            request.Headers.TryAddWithoutValidation("ServiceBusSupplementaryAuthorization", _sas.GetToken(Base + target));
            if (ifMatch)
            {
                request.Headers.TryAddWithoutValidation("If-Match", "*");
            }

            return request;
        }

        Assert.Equal(HttpStatusCode.NotFound, (await _http.SendAsync(Subscription("q", ifMatch: true))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await _http.SendAsync(Subscription("q", ifMatch: false))).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await _http.SendAsync(Subscription("other", ifMatch: false))).StatusCode);
        Assert.Equal("q", _fake.ForwardTo("t/Subscriptions/s"));
        Assert.Equal(HttpStatusCode.OK, (await _http.SendAsync(Subscription("other", ifMatch: true))).StatusCode);

        Assert.Equal("other", _fake.ForwardTo("t/Subscriptions/s"));
        var description = await (await SendAsync(HttpMethod.Get, "t/Subscriptions/s?api-version=2021-05")).Content.ReadAsStringAsync();
        Assert.Contains($"<ForwardTo>{Base}other</ForwardTo>", description, StringComparison.Ordinal);
        await SendAsync(HttpMethod.Post, "t/messages", "event");
        Assert.Single(_fake.MessagesIn("other"));
        Assert.Empty(_fake.MessagesIn("q"));
    }

    [Fact]
    public async Task Update_cannot_change_requires_session()
    {
        await SendAsync(HttpMethod.Put, "q?api-version=2021-05", EntityDescriptions.Queue(TimeSpan.FromSeconds(30), 10)
            .Replace("<RequiresSession>false</RequiresSession>", "<RequiresSession>true</RequiresSession>", StringComparison.Ordinal), "application/atom+xml");
        var update = Request(HttpMethod.Put, "q?api-version=2021-05", EntityDescriptions.Queue(TimeSpan.FromSeconds(30), 5), "application/atom+xml");
        update.Headers.TryAddWithoutValidation("If-Match", "*");

        var response = await _http.SendAsync(update);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(10, _fake.MaxDeliveryCountOf("q"));
    }

    [Fact]
    public async Task Batch_send_stores_each_entry_with_its_properties()
    {
        await CreateQueueAsync("q");
        var batch = "[{\"Body\":\"one\",\"BrokerProperties\":{\"MessageId\":\"1\"},\"UserProperties\":{\"h\":\"a\"}}," +
                    "{\"Body\":\"two\",\"BrokerProperties\":{\"MessageId\":\"2\"},\"UserProperties\":{\"h\":\"b\"}}]";

        var response = await SendAsync(HttpMethod.Post, "q/messages", batch, "application/vnd.microsoft.servicebus.json");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(["1", "2"], _fake.MessagesIn("q").Select(m => m.MessageId));
        Assert.Equal("\"b\"", _fake.MessagesIn("q")[1].Properties["h"]);
    }

    [Fact]
    public async Task Bad_signature_and_missing_entity_are_refused()
    {
        var forged = new HttpRequestMessage(HttpMethod.Post, Base + "q/messages");
        forged.Headers.TryAddWithoutValidation("Authorization", SasTokenProvider.CreateToken(Base, FakeServiceBus.KeyName, Encoding.UTF8.GetBytes("wrong"), _time.GetUtcNow().AddHours(1).ToUnixTimeSeconds()));

        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.SendAsync(forged)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Post, "missing/messages", "x")).StatusCode);
    }

    private Task<HttpResponseMessage> CreateQueueAsync(string name, TimeSpan? lockDuration = null, int maxDeliveryCount = 10) =>
        SendAsync(HttpMethod.Put, name + "?api-version=2021-05",
            EntityDescriptions.Queue(lockDuration ?? TimeSpan.FromSeconds(60), maxDeliveryCount), "application/atom+xml");

    /// <summary>A queue description with one forwarding element (<paramref name="element"/>, in schema order).</summary>
    private static string ForwardingQueue(string element, string target) =>
        EntityDescriptions.Queue(TimeSpan.FromSeconds(30), 10)
            .Replace("</QueueDescription>", $"<{element}>{target}</{element}></QueueDescription>", StringComparison.Ordinal);

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string relative, string? body = null, string? contentType = null) =>
        _http.SendAsync(Request(method, relative, body, contentType));

    private HttpRequestMessage Request(HttpMethod method, string relative, string? body = null, string? contentType = null)
    {
        var request = new HttpRequestMessage(method, Base + relative);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, contentType ?? "text/plain");
        }

        request.Headers.TryAddWithoutValidation("Authorization", _sas.GetToken(Base));
        return request;
    }

    private static JsonElement Broker(HttpResponseMessage response) =>
        JsonDocument.Parse(response.Headers.GetValues("BrokerProperties").Single()).RootElement;

    private static string Rfc1123(DateTimeOffset time) => time.UtcDateTime.ToString("R", CultureInfo.InvariantCulture);
}

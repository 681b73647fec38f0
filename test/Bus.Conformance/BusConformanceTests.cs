using System.Text;
using Bus.Hosting;
using Bus.Leases;
using Bus.Transports;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Bus.Conformance;

/// <summary>
/// The behaviour every transport gives a bus endpoint: routing, fan-out, headers, delays, retries, dead letters,
/// leases, redrive, graceful stop and concurrency. A transport's test project subclasses it and supplies the
/// transport. On a <see cref="Testing.ManualTimeProvider"/>, time passes only while a test waits.
/// </summary>
public abstract class BusConformanceTests : IAsyncLifetime
{
    private readonly List<TestEndpoint> _endpoints = [];

    /// <summary>Ties messages to this test, so parallel tests sharing topics ignore each other's.</summary>
    protected string TestId { get; } = Guid.NewGuid().ToString("N")[..12];

    /// <summary>Handlers report here.</summary>
    protected Recorder Recorder { get; } = new();

    /// <summary>Counts the bus's measurements.</summary>
    protected BusProbe Probe { get; } = new();

    /// <summary>The clock the transport and buses run on.</summary>
    protected abstract TimeProvider Time { get; }

    /// <summary>Lets time pass while awaiting.</summary>
    protected TimeDriver Driver => new(Time, Patience);

    /// <summary>How long (real time) to wait for anything.</summary>
    protected virtual TimeSpan Patience => TimeSpan.FromSeconds(30);

    /// <summary>A lease short enough to expire within a test.</summary>
    protected virtual TimeSpan ShortLease => TimeSpan.FromSeconds(2);

    /// <summary>The step store every endpoint of a test shares, as workers share a durable store in production.</summary>
    protected virtual Steps.IStepStore StepStore { get; } = new Steps.InMemoryStepStore();

    /// <summary>Configures the transport of an endpoint; every endpoint of a test must reach the same broker.</summary>
    protected abstract void UseTransport(BusConfiguration bus);

    /// <summary>Registers services the transport needs (optional).</summary>
    protected virtual void AddServices(IServiceCollection services)
    {
    }

    /// <inheritdoc />
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        foreach (var endpoint in _endpoints)
        {
            await Driver.AwaitAsync(endpoint.StopAsync());
            await endpoint.DisposeAsync();
        }

        Probe.Dispose();
    }

    /// <summary>Starts an endpoint with the suite's handlers and fast retries.</summary>
    protected async Task<TestEndpoint> StartEndpointAsync(string hint, Action<BusConfiguration>? configure = null)
    {
        var name = $"{hint}-{TestId}";
        var endpoint = await TestEndpoint.StartAsync(name, Time,
            services =>
            {
                services.AddSingleton(Recorder);
                services.AddSingleton(StepStore);
                AddServices(services);
            },
            bus =>
            {
                UseTransport(bus);
                bus.MaxConcurrency = 4;
                bus.Prefetch = 4;
                bus.ShutdownTimeout = TimeSpan.FromSeconds(5);
                bus.Retry.MaxAttempts = 3;
                bus.Retry.ImmediateRetries = 1;
                bus.Retry.InitialDelay = TimeSpan.FromSeconds(1);
                bus.Retry.MaxDelay = TimeSpan.FromSeconds(2);
                bus.Profile = bus.Profile with { LeaseDuration = ShortLease * 5, HeartbeatInterval = ShortLease };
                configure?.Invoke(bus);
            });
        _endpoints.Add(endpoint);
        return endpoint;
    }

    private Task WaitForAsync(Func<IReadOnlyList<Handled>, bool> condition) => Driver.AwaitAsync(Recorder.WhenAsync(condition));

    private Task WaitForCountAsync(TestEndpoint endpoint, string instrument, long atLeast) =>
        Driver.AwaitAsync(Probe.WhenAsync(endpoint.Name, instrument, atLeast));

    private IEnumerable<Handled> Mine(IReadOnlyList<Handled> all) =>
        all.Where(h => h.Message is DoWork w ? w.Test == TestId : h.Message is WorkDone d && d.Test == TestId);

    private async Task<DeadLetter> SingleDeadLetterAsync(TestEndpoint endpoint)
    {
        await WaitForCountAsync(endpoint, "bus.messages.dead_lettered", 1);
        return Assert.Single(await endpoint.DeadLetters.PeekAsync(endpoint.Name, 10, default));
    }

    [Fact]
    public async Task Command_is_sent_to_its_one_owning_endpoint()
    {
        var owner = await StartEndpointAsync("owner", b => b.AddHandler<DoWorkHandler>());
        var sender = await StartEndpointAsync("sender", b => b.RouteCommand<DoWork>(owner.Name));

        await sender.Bus.SendAsync(new DoWork(TestId, "c1"));
        await WaitForAsync(all => Mine(all).Any());

        var handled = Assert.Single(Mine(Recorder.All));
        Assert.Equal(owner.Name, handled.Endpoint);
        Assert.Equal(1, handled.Attempt);
        await WaitForCountAsync(owner, "bus.messages.completed", 1);
    }

    [Fact]
    public async Task Event_fans_out_to_every_subscribing_endpoint()
    {
        var a = await StartEndpointAsync("sub-a", b => b.AddHandler<WorkDoneHandler>());
        var b = await StartEndpointAsync("sub-b", b => b.AddHandler<WorkDoneHandler>());
        var publisher = await StartEndpointAsync("publisher", b => b.AddMessage<WorkDone>());

        await publisher.Bus.PublishAsync(new WorkDone(TestId, "e1"));
        await WaitForAsync(all => Mine(all).Count() >= 2);

        var endpoints = Mine(Recorder.All).Select(h => h.Endpoint).Order().ToList();
        Assert.Equal(new[] { a.Name, b.Name }.Order(), endpoints);
        Assert.Single(Mine(Recorder.All).Select(h => h.MessageId).Distinct());
    }

    [Fact]
    public async Task Headers_correlation_causation_and_sticky_headers_flow_to_what_a_handler_sends()
    {
        var endpoint = await StartEndpointAsync("headers", b => b.AddHandler<DoWorkHandler>().AddHandler<WorkDoneHandler>());
        var options = new DeliveryOptions { CorrelationId = $"corr-{TestId}" };
        options.Headers["tenant"] = "acme";
        options.StickyHeaders["trace-tag"] = "sticky-1";

        await endpoint.Bus.SendAsync(new DoWork(TestId, "h1", "publish"), options);
        await WaitForAsync(all => Mine(all).Any(h => h.Message is WorkDone));

        var first = Mine(Recorder.All).Single(h => h.Message is DoWork);
        var second = Mine(Recorder.All).Single(h => h.Message is WorkDone);
        Assert.Equal("acme", first.Headers["tenant"]);
        Assert.Equal($"corr-{TestId}", first.Headers[MessageHeaders.CorrelationId]);
        Assert.Equal("conformance.do-work", first.Headers[MessageHeaders.MessageType]);
        Assert.Equal($"corr-{TestId}", second.Headers[MessageHeaders.CorrelationId]);
        Assert.Equal(first.MessageId, second.Headers[MessageHeaders.CausationId]);
        Assert.Equal("sticky-1", second.Headers["trace-tag"]);
        Assert.False(second.Headers.ContainsKey("tenant"), "plain headers do not ride along");
        Assert.NotEqual(first.MessageId, second.MessageId);
    }

    [Fact]
    public async Task A_sticky_list_naming_the_buss_own_headers_does_not_make_them_ride_along()
    {
        // Each message has its own id, type and sent-at time: a received sticky list that names them (from another
        // sender) carries only the headers that may ride along.
        var endpoint = await StartEndpointAsync("sticky-own", b => b.AddHandler<DoWorkHandler>());
        var raw = Raw(endpoint.Name, "conformance.do-work", $"{{\"test\":\"{TestId}\",\"id\":\"s1\",\"mode\":\"send-next\"}}");
        var headers = raw.Message.Headers.ToDictionary(h => h.Key, h => h.Value);
        headers[MessageHeaders.StickyHeaders] = $"{MessageHeaders.MessageId},{MessageHeaders.MessageType},{MessageHeaders.SentAt},trace-tag";
        headers["trace-tag"] = "t-1";
        headers[MessageHeaders.SentAt] = "2020-01-01T00:00:00.0000000+00:00";

        await endpoint.Transport.SendAsync([raw with { Message = new TransportMessage(headers, raw.Message.Body) }], default);
        await WaitForAsync(all => Mine(all).Count() >= 2);

        var first = Mine(Recorder.All).Single(h => ((DoWork)h.Message).Id == "s1");
        var next = Mine(Recorder.All).Single(h => ((DoWork)h.Message).Id == "s1.next");
        Assert.NotEqual(first.MessageId, next.MessageId);
        Assert.Equal("conformance.do-work", next.Headers[MessageHeaders.MessageType]);
        Assert.NotEqual("2020-01-01T00:00:00.0000000+00:00", next.Headers[MessageHeaders.SentAt]);
        Assert.Equal("t-1", next.Headers["trace-tag"]);
        Assert.Equal(first.MessageId, next.Headers[MessageHeaders.CausationId]);
        Assert.Empty(await endpoint.Transport.DeadLetters.PeekAsync(endpoint.Name, 10, default));
    }

    [Fact]
    public async Task Without_a_correlation_id_a_new_conversation_starts_with_the_message_id()
    {
        var endpoint = await StartEndpointAsync("corr", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Bus.SendAsync(new DoWork(TestId, "n1", "send-next"));
        await WaitForAsync(all => Mine(all).Count() >= 2);

        var first = Mine(Recorder.All).Single(h => ((DoWork)h.Message).Id == "n1");
        var next = Mine(Recorder.All).Single(h => ((DoWork)h.Message).Id == "n1.next");
        Assert.Equal(first.MessageId, first.Headers[MessageHeaders.CorrelationId]);
        Assert.Equal(first.MessageId, next.Headers[MessageHeaders.CorrelationId]);
    }

    [Fact]
    public async Task Delayed_message_is_not_handled_before_it_is_due()
    {
        var endpoint = await StartEndpointAsync("delay", b => b.AddHandler<DoWorkHandler>());
        var sentAt = Time.GetUtcNow();
        var delay = ShortLease * 2;

        await endpoint.Bus.SendAsync(new DoWork(TestId, "d1"), new DeliveryOptions { Delay = delay });
        await WaitForAsync(all => Mine(all).Any());

        var handled = Assert.Single(Mine(Recorder.All));
        Assert.True(handled.At >= sentAt + delay, $"handled at {handled.At:O}, due {sentAt + delay:O}");
    }

    [Fact]
    public async Task Message_received_outside_its_time_window_waits_until_it_opens_without_counting_an_attempt()
    {
        // A daily window that opens a few seconds from now (whole seconds: windows are set as "HH:mm:ss").
        var now = Time.GetUtcNow();
        var opens = new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero) + TimeSpan.FromSeconds(1) + (ShortLease * 3);
        var window = TimeWindow.Daily(
            opens.ToString("HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture),
            (opens + TimeSpan.FromHours(1)).ToString("HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture));
        var endpoint = await StartEndpointAsync("window", b => b.AddHandler<DoWorkHandler>().ConfigureHandling<DoWork>(h => h.Window = window));

        await endpoint.Bus.SendAsync(new DoWork(TestId, "w1"));
        await WaitForAsync(all => Mine(all).Any());

        var handled = Assert.Single(Mine(Recorder.All));
        Assert.True(handled.At >= opens, $"handled at {handled.At:O}, before the window opened at {opens:O}");
        Assert.Equal(1, handled.Attempt);
        Assert.True(Probe.Count(endpoint.Name, "bus.messages.released") >= 1, "deferred (released) until the window opened");
        Assert.Equal(0, Probe.Count(endpoint.Name, "bus.messages.retried"));
    }

    [Fact]
    public async Task Failing_handler_is_retried_then_dead_lettered_once_with_the_reason()
    {
        var endpoint = await StartEndpointAsync("retries", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Bus.SendAsync(new DoWork(TestId, "r1", "throw"));
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Equal([1, 2, 3], Mine(Recorder.All).Select(h => h.Attempt));
        Assert.StartsWith("Attempts exhausted (3 of 3)", dead.Failure.Reason);
        Assert.Equal(typeof(InvalidOperationException).FullName, dead.Failure.ExceptionType);
        Assert.Equal("boom r1", dead.Failure.ExceptionMessage);
        Assert.Contains(nameof(DoWorkHandler), dead.Failure.StackTrace);
        Assert.Equal(3, dead.Failure.Attempts);
        Assert.Equal(endpoint.Name, dead.Failure.SourceQueue);
        Assert.Equal("conformance.do-work", dead.Message.Headers[MessageHeaders.MessageType]);
        Assert.Equal(Mine(Recorder.All).First().MessageId, dead.Message.MessageId);
        Assert.Equal(2, Probe.Count(endpoint.Name, "bus.messages.retried"));
        Assert.Equal(1, Probe.Count(endpoint.Name, "bus.messages.dead_lettered"));
    }

    [Fact]
    public async Task Handler_that_recovers_on_a_retry_completes_and_its_sends_go_out_once()
    {
        var endpoint = await StartEndpointAsync("recover", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Bus.SendAsync(new DoWork(TestId, "s1", "send-next", FailUntilAttempt: 2));
        await WaitForAsync(all => Mine(all).Any(h => ((DoWork)h.Message).Id == "s1.next"));
        await WaitForCountAsync(endpoint, "bus.messages.completed", 2);

        Assert.Equal([1, 2, 3], Mine(Recorder.All).Where(h => ((DoWork)h.Message).Id == "s1").Select(h => h.Attempt));
        Assert.Single(Mine(Recorder.All), h => ((DoWork)h.Message).Id == "s1.next");
    }

    [Fact]
    public async Task Messages_sent_by_a_failed_attempt_are_not_sent()
    {
        var endpoint = await StartEndpointAsync("ghost", b =>
        {
            b.AddHandler<DoWorkHandler>();
            b.Retry.MaxAttempts = 1;
            b.Retry.ImmediateRetries = 0;
        });

        await endpoint.Bus.SendAsync(new DoWork(TestId, "g1", "send-then-throw"));
        await SingleDeadLetterAsync(endpoint);
        await endpoint.Bus.SendAsync(new DoWork(TestId, "after"));
        await WaitForAsync(all => Mine(all).Any(h => ((DoWork)h.Message).Id == "after"));

        Assert.DoesNotContain(Mine(Recorder.All), h => ((DoWork)h.Message).Id == "g1.ghost");
    }

    [Fact]
    public async Task Non_retryable_exception_goes_straight_to_the_dead_letter_queue()
    {
        var endpoint = await StartEndpointAsync("nonretry", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Bus.SendAsync(new DoWork(TestId, "x1", "non-retryable"));
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Single(Mine(Recorder.All));
        Assert.StartsWith("Non-retryable NonRetryableException", dead.Failure.Reason);
        Assert.Equal(1, dead.Failure.Attempts);
    }

    [Fact]
    public async Task Exception_types_listed_as_non_retryable_are_not_retried()
    {
        var endpoint = await StartEndpointAsync("filter", b =>
        {
            b.AddHandler<DoWorkHandler>();
            b.Retry.DoNotRetry<InvalidOperationException>();
        });

        await endpoint.Bus.SendAsync(new DoWork(TestId, "f1", "throw"));
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Single(Mine(Recorder.All));
        Assert.Equal(typeof(InvalidOperationException).FullName, dead.Failure.ExceptionType);
    }

    [Fact]
    public async Task FailAsync_dead_letters_at_once_with_the_given_reason()
    {
        var endpoint = await StartEndpointAsync("failnow", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Bus.SendAsync(new DoWork(TestId, "q1", "fail"));
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Single(Mine(Recorder.All));
        Assert.Equal("rejected q1", dead.Failure.Reason);
        Assert.Null(dead.Failure.ExceptionType);
    }

    [Fact]
    public async Task FailAsync_swallowed_by_the_handler_still_dead_letters_and_sends_nothing()
    {
        var endpoint = await StartEndpointAsync("failswallowed", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Bus.SendAsync(new DoWork(TestId, "s1", "fail-swallowed"));
        var dead = await SingleDeadLetterAsync(endpoint);
        await endpoint.Bus.SendAsync(new DoWork(TestId, "after"));
        await WaitForAsync(all => Mine(all).Any(h => ((DoWork)h.Message).Id == "after"));

        Assert.Equal("rejected s1", dead.Failure.Reason);
        Assert.DoesNotContain(Mine(Recorder.All), h => ((DoWork)h.Message).Id == "s1.ghost");
    }

    [Fact]
    public async Task A_compensation_sent_even_if_the_handler_fails_goes_out_and_the_message_is_dead_lettered()
    {
        var subscriber = await StartEndpointAsync("compensations", b => b.AddHandler<WorkDoneHandler>());
        var endpoint = await StartEndpointAsync("payments", b => b.AddHandler<DoWorkHandler>().AddMessage<WorkDone>());

        await endpoint.Bus.SendAsync(new DoWork(TestId, "p1", "compensate-then-fail"));
        var dead = await SingleDeadLetterAsync(endpoint);
        await WaitForAsync(all => Mine(all).Any(h => h.Message is WorkDone { Id: "p1.compensated" }));
        await endpoint.Bus.SendAsync(new DoWork(TestId, "after"));
        await WaitForAsync(all => Mine(all).Any(h => h.Message is DoWork { Id: "after" }));

        Assert.Equal("payment failed p1", dead.Failure.Reason);
        Assert.Equal(subscriber.Name, Assert.Single(Mine(Recorder.All), h => h.Message is WorkDone).Endpoint);
        Assert.DoesNotContain(Mine(Recorder.All), h => h.Message is DoWork { Id: "p1.ghost" });
    }

    [Fact]
    public async Task Body_that_does_not_deserialize_is_dead_lettered_with_the_reason()
    {
        var endpoint = await StartEndpointAsync("badbody", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Transport.SendAsync([Raw(endpoint.Name, "conformance.do-work", "{ this is not json")], default);
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Empty(Mine(Recorder.All));
        Assert.Contains("could not be deserialized as 'conformance.do-work'", dead.Failure.Reason);
        Assert.Equal("{ this is not json", Encoding.UTF8.GetString(dead.Message.Body.Span));
    }

    [Fact]
    public async Task Messages_read_ahead_while_the_worker_is_busy_are_handled_or_dead_lettered_like_any_other()
    {
        // With one worker busy, the receive loop reads the next messages ahead (in memory: deterministically, as they
        // arrive in one send). A body read ahead that does not deserialize, or a newer version than the endpoint
        // knows, is dead-lettered with the same reason as when its worker reads it.
        var endpoint = await StartEndpointAsync("read-ahead", b =>
        {
            b.MaxConcurrency = 1;
            b.AddHandler<DoWorkHandler>();
        });
        string Json(string id, string mode) => $"{{\"test\":\"{TestId}\",\"id\":\"{id}\",\"mode\":\"{mode}\"}}";

        await endpoint.Transport.SendAsync(
            [
                Raw(endpoint.Name, "conformance.do-work", Json("busy", "block")),
                Raw(endpoint.Name, "conformance.do-work", "{ this is not json"),
                Raw(endpoint.Name, "conformance.do-work", Json("newer", "ok"), version: "2"),
                Raw(endpoint.Name, "conformance.do-work", Json("after", "ok")),
            ],
            default);
        await WaitForAsync(all => Mine(all).Any(h => ((DoWork)h.Message).Id == "busy"));
        Recorder.Open("busy");
        await WaitForCountAsync(endpoint, "bus.messages.dead_lettered", 2);
        await WaitForAsync(all => Mine(all).Any(h => ((DoWork)h.Message).Id == "after"));

        var dead = await endpoint.DeadLetters.PeekAsync(endpoint.Name, 10, default);
        Assert.Equal(2, dead.Count);
        var unreadable = Assert.Single(dead, d => d.Failure.Reason.Contains("could not be deserialized as 'conformance.do-work'", StringComparison.Ordinal));
        Assert.Equal("{ this is not json", Encoding.UTF8.GetString(unreadable.Message.Body.Span));
        Assert.Single(dead, d => d.Failure.Reason.Contains("is version 2, newer than the version 1", StringComparison.Ordinal));
        Assert.Equal(["after", "busy"], Mine(Recorder.All).Select(h => ((DoWork)h.Message).Id).Order());
    }

    [Theory]
    [InlineData("unknown type", "nobody.knows-this", "Unknown message type")]
    [InlineData("undeserializable body", "conformance.do-work", "could not be deserialized")]
    [InlineData("exhausted attempts", "conformance.do-work", "Attempts exhausted (3 of 3)")]
    public async Task A_message_100_bytes_under_the_size_limit_is_dead_lettered_whole_with_its_reason(string path, string wireName, string reason)
    {
        var endpoint = await StartEndpointAsync("nearlimit", b => b.AddHandler<DoWorkHandler>());
        var limit = endpoint.Transport.Capabilities.MaxMessageSize ?? 1024 * 1024;
        string Body(string padding) => path == "undeserializable body"
            ? "{ not json " + padding
            : $$"""{"test":"{{TestId}}","id":"{{padding}}","mode":"throw"}""";
        var overhead = MessageSizeLimit.SizeOf(Raw(endpoint.Name, wireName, Body(string.Empty)).Message);
        var raw = Raw(endpoint.Name, wireName, Body(new string('p', (int)(limit - overhead - 100))));

        await endpoint.Transport.SendAsync([raw], default);
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Equal(raw.Message.MessageId, dead.Message.MessageId);
        Assert.Equal(raw.Message.Body.ToArray(), dead.Message.Body.ToArray());
        Assert.Contains(reason, dead.Failure.Reason);
    }

    [Fact]
    public async Task Unknown_wire_name_is_dead_lettered_with_the_reason()
    {
        var endpoint = await StartEndpointAsync("unknown", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Transport.SendAsync([Raw(endpoint.Name, "nobody.knows-this", "{}")], default);
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Contains("Unknown message type 'nobody.knows-this'", dead.Failure.Reason);
        Assert.Equal("nobody.knows-this", dead.Message.Headers[MessageHeaders.MessageType]);
    }

    [Fact]
    public async Task A_newer_version_than_the_endpoint_knows_is_dead_lettered_and_an_older_or_equal_one_is_handled()
    {
        var endpoint = await StartEndpointAsync("versions", b => b.AddHandler<VersionedWorkHandler>());
        string Body(string id) => $"{{\"test\":\"{TestId}\",\"id\":\"{id}\"}}";

        await endpoint.Transport.SendAsync([Raw(endpoint.Name, "conformance.versioned-work", Body("newer"), version: "3")], default);
        var dead = await SingleDeadLetterAsync(endpoint);
        await endpoint.Transport.SendAsync(
            [Raw(endpoint.Name, "conformance.versioned-work", Body("older"), version: "1"), Raw(endpoint.Name, "conformance.versioned-work", Body("same"), version: "2")],
            default);
        await WaitForAsync(all => all.Count(h => h.Message is VersionedWork w && w.Test == TestId) == 2);

        Assert.Contains("Message type 'conformance.versioned-work' is version 3, newer than the version 2", dead.Failure.Reason);
        Assert.Equal("3", dead.Message.Headers[MessageHeaders.MessageVersion]);
        Assert.Equal(["older", "same"], Recorder.All.Select(h => h.Message).OfType<VersionedWork>().Where(w => w.Test == TestId).Select(w => w.Id).Order());
    }

    [Fact]
    public async Task A_message_with_an_invalid_version_is_dead_lettered_with_the_reason()
    {
        var endpoint = await StartEndpointAsync("badversion", b => b.AddHandler<DoWorkHandler>());

        await endpoint.Transport.SendAsync([Raw(endpoint.Name, "conformance.do-work", "{}", version: "two")], default);
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Contains("Message type 'conformance.do-work' has an invalid version 'two'", dead.Failure.Reason);
        Assert.Empty(Mine(Recorder.All));
    }

    [Fact]
    public async Task Message_with_no_handler_is_dead_lettered_with_the_reason()
    {
        var endpoint = await StartEndpointAsync("nohandler", b => b.AddHandler<WorkDoneHandler>().AddMessage<DoWork>());

        await endpoint.Bus.SendAsync(new DoWork(TestId, "nh"), new DeliveryOptions { Destination = endpoint.Name });
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Contains("No handler for message type 'conformance.do-work'", dead.Failure.Reason);
    }

    [Fact]
    public async Task Foreign_payload_without_bus_headers_is_dead_lettered_not_deleted()
    {
        var endpoint = await StartEndpointAsync("foreign", b => b.AddHandler<DoWorkHandler>());
        var body = "{\"source\":\"somewhere.else\",\"detail-type\":\"Nothing we know\"}";

        await endpoint.Transport.SendAsync([new OutgoingMessage(Destination.Queue(endpoint.Name),
            new TransportMessage(new Dictionary<string, string>(), Encoding.UTF8.GetBytes(body)))], default);
        var dead = await SingleDeadLetterAsync(endpoint);

        Assert.Contains("no bus-message-type header", dead.Failure.Reason);
        Assert.Equal(body, Encoding.UTF8.GetString(dead.Message.Body.Span));
    }

    [Fact]
    public async Task Message_of_a_crashed_worker_is_redelivered_after_its_lease_expires()
    {
        var endpoint = await StartEndpointAsync("crash", b => b.AddHandler<DoWorkHandler>());
        await Driver.AwaitAsync(endpoint.StopAsync());
        await endpoint.Bus.SendAsync(new DoWork(TestId, "k1"));

        // A worker takes the message and dies without settling it.
        var crashed = await Driver.AwaitAsync(ReceiveOneAsync(endpoint));
        Assert.NotNull(crashed);
        var survivor = await StartEndpointAsync("crash-survivor", b =>
        {
            b.EndpointName = endpoint.Name;
            b.AddHandler<DoWorkHandler>();
        });
        await WaitForAsync(all => Mine(all).Any());

        var handled = Assert.Single(Mine(Recorder.All));
        Assert.Equal(2, handled.Attempt);
        Assert.Equal(crashed.Message.MessageId, handled.MessageId);
        _ = survivor;
    }

    [Fact]
    public async Task Heartbeats_keep_a_handler_longer_than_its_lease_from_redelivery()
    {
        var profile = new Leases.ExecutionProfile
        {
            LeaseDuration = ShortLease,
            HeartbeatInterval = ShortLease / 4,
            MaxRuntime = ShortLease * 20,
        };

        // The endpoint's own profile is the short one too, so the lease taken at receive is ShortLease: eight
        // heartbeats (two leases) can only keep the message if each renewal extends it.
        var endpoint = await StartEndpointAsync("heartbeat", b =>
        {
            b.Profile = profile;
            b.AddHandler<DoWorkHandler>().ConfigureHandling<DoWork>(h => h.Profile = profile);
        });

        await endpoint.Bus.SendAsync(new DoWork(TestId, "b1", "block"));
        await WaitForAsync(all => Mine(all).Any());
        await WaitForCountAsync(endpoint, "bus.lease.renewals", 8); // well past two leases
        Recorder.Open("b1");
        await WaitForCountAsync(endpoint, "bus.messages.completed", 1);

        var handled = Assert.Single(Mine(Recorder.All));
        Assert.Equal(1, handled.Attempt);
        Assert.Equal(0, Probe.Count(endpoint.Name, "bus.lease.lost"));
    }

    [Fact]
    public async Task Redrive_returns_dead_letters_with_their_identity()
    {
        var endpoint = await StartEndpointAsync("redrive", b => b.AddHandler<DoWorkHandler>());
        var options = new DeliveryOptions { MessageId = $"fixed-{TestId}" };
        options.Headers["origin"] = "test";

        await endpoint.Bus.SendAsync(new DoWork(TestId, "rd", "fail"), options);
        var dead = await SingleDeadLetterAsync(endpoint);
        var moved = await endpoint.DeadLetters.RedriveAsync(endpoint.Name, [dead.Message.MessageId!], default);
        await WaitForAsync(all => Mine(all).Count() >= 2);

        Assert.Equal(1, moved);
        var again = Mine(Recorder.All).Last();
        Assert.Equal($"fixed-{TestId}", again.MessageId);
        Assert.Equal("test", again.Headers["origin"]);
        Assert.Equal(1, again.Attempt);
        Assert.DoesNotContain(again.Headers.Keys, MessageHeaders.IsFailureHeader);
    }

    [Fact]
    public async Task Graceful_stop_loses_nothing()
    {
        var first = await StartEndpointAsync("stop", b =>
        {
            b.AddHandler<DoWorkHandler>();
            b.MaxConcurrency = 2;
            b.Prefetch = 3;
        });
        for (var i = 0; i < 10; i++)
        {
            await first.Bus.SendAsync(new DoWork(TestId, $"m{i}", i < 2 ? "block" : "ok"));
        }

        await WaitForAsync(all => Mine(all).Count(h => ((DoWork)h.Message).Mode == "block") == 2 || Mine(all).Count() >= 4);
        var stopping = first.StopAsync();
        Recorder.Open("m0");
        Recorder.Open("m1");
        await Driver.AwaitAsync(stopping);
        var second = await StartEndpointAsync("stop-second", b =>
        {
            b.EndpointName = first.Name;
            b.AddHandler<DoWorkHandler>();
        });
        await WaitForAsync(all => Enumerable.Range(0, 10).All(i => Mine(all).Any(h => ((DoWork)h.Message).Id == $"m{i}")));

        Assert.Equal(0, Probe.Count(first.Name, "bus.messages.dead_lettered"));
        Assert.Empty(await second.DeadLetters.PeekAsync(first.Name, 10, default));

        // Prefetched messages were given back at the stop, not left for their leases to expire: no attempt counted.
        Assert.All(Mine(Recorder.All), h => Assert.Equal(1, h.Attempt));
    }

    [Fact]
    public async Task Concurrency_limit_is_honoured()
    {
        var endpoint = await StartEndpointAsync("concurrency", b =>
        {
            b.AddHandler<DoWorkHandler>();
            b.MaxConcurrency = 2;
            b.Prefetch = 1;
        });
        for (var i = 0; i < 6; i++)
        {
            await endpoint.Bus.SendAsync(new DoWork(TestId, "gate", "block"));
        }

        await WaitForAsync(all => Mine(all).Count() >= 2);
        Assert.Equal(2, Recorder.Running);
        Recorder.Open("gate");
        await WaitForAsync(all => Mine(all).Count() >= 6);
        await WaitForCountAsync(endpoint, "bus.messages.completed", 6);

        Assert.Equal(2, Recorder.MaxRunning);
    }

    [Fact]
    public async Task Job_past_its_max_runtime_is_cancelled_and_retried()
    {
        var endpoint = await StartEndpointAsync("maxruntime", b => b.AddHandler<LongJobHandler>()
            .ConfigureHandling<LongJob>(h => h.Profile = new Leases.ExecutionProfile
            {
                LeaseDuration = ShortLease * 2,
                HeartbeatInterval = ShortLease / 2,
                MaxRuntime = ShortLease * 3,
            }));

        await endpoint.Bus.SendAsync(new LongJob(TestId, "mr", Steps: 2, BlockAtStep: 1));
        await WaitForAsync(all => all.Any(h => h.Handler == "cancelled" && ((LongJob)h.Message).Test == TestId));
        Recorder.Open("mr/step-1");
        await WaitForCountAsync(endpoint, "bus.messages.completed", 1);

        // Counted once the retry is settled, which may be after the redelivered copy completed (SQS makes the message
        // visible before it answers the visibility change): waited for, not read at once.
        await WaitForCountAsync(endpoint, "bus.messages.retried", 1);
        var starts = Recorder.All.Where(h => h.Handler == nameof(LongJobHandler) && ((LongJob)h.Message).Test == TestId).ToList();
        Assert.Equal([1, 2], starts.Select(h => h.Attempt));
        Assert.Equal([("mr", 0), ("mr", 1)], Recorder.Steps.Where(s => s.Job == "mr"));
    }

    [Fact]
    public async Task Two_copies_of_a_job_handled_at_once_run_each_step_once()
    {
        // Two copies with one message id (at-least-once delivery, or a deterministic id published twice): the second
        // waits for the step the first is running, then finds its result.
        var endpoint = await StartEndpointAsync("dup-steps", b =>
        {
            b.MaxConcurrency = 2;
            b.AddHandler<LongJobHandler>();
        });
        var options = new DeliveryOptions { MessageId = $"dup-{TestId}" };

        await endpoint.Bus.SendAsync(new LongJob(TestId, "dup", Steps: 2, BlockAtStep: 0), options);
        await endpoint.Bus.SendAsync(new LongJob(TestId, "dup", Steps: 2, BlockAtStep: 0), options);
        await WaitForAsync(all => all.Count(h => h.Message is LongJob { Id: "dup" } && h.Handler == nameof(LongJobHandler)) == 2);
        Recorder.Open("dup/step-0");
        await WaitForCountAsync(endpoint, "bus.messages.completed", 2);

        Assert.Equal([("dup", 0), ("dup", 1)], Recorder.Steps.Where(s => s.Job == "dup"));
    }

    [Fact]
    public async Task Finished_steps_do_not_run_again_when_the_job_is_retried()
    {
        var endpoint = await StartEndpointAsync("steps", b => b.AddHandler<LongJobHandler>());

        await endpoint.Bus.SendAsync(new LongJob(TestId, "st", Steps: 5, FailAtStepOnFirstAttempt: 2));
        await WaitForCountAsync(endpoint, "bus.messages.completed", 1);

        Assert.Equal([0, 1, 2, 3, 4], Recorder.Steps.Where(s => s.Job == "st").Select(s => s.Step));
        Assert.Equal([1, 2], Recorder.All.Where(h => h.Message is LongJob { Id: "st" } && h.Handler == nameof(LongJobHandler)).Select(h => h.Attempt));
    }

    [Fact]
    public async Task Checkpoint_during_shutdown_releases_the_job_and_another_worker_finishes_it()
    {
        var first = await StartEndpointAsync("checkpoint", b => b.AddHandler<LongJobHandler>());
        await first.Bus.SendAsync(new LongJob(TestId, "cp", Steps: 6, BlockAtStep: 2));
        await Driver.AwaitAsync(Recorder.EnteredAsync("cp/step-2")); // steps 0 and 1 are saved; step 2 is running

        var stopping = first.StopAsync();
        Recorder.Open("cp/step-2");
        await Driver.AwaitAsync(stopping);
        Assert.Equal([0, 1, 2], Recorder.Steps.Where(s => s.Job == "cp").Select(s => s.Step));
        Assert.Equal(1, Probe.Count(first.Name, "bus.messages.released"));

        var second = await StartEndpointAsync("checkpoint-second", b =>
        {
            b.EndpointName = first.Name;
            b.AddHandler<LongJobHandler>();
        });
        await WaitForCountAsync(second, "bus.messages.completed", 1);

        Assert.Equal([0, 1, 2, 3, 4, 5], Recorder.Steps.Where(s => s.Job == "cp").Select(s => s.Step));
        var starts = Recorder.All.Where(h => h.Message is LongJob { Id: "cp" } && h.Handler == nameof(LongJobHandler)).ToList();
        Assert.Equal([1, 1], starts.Select(h => h.Attempt));
        Assert.Equal(0, Probe.Count(first.Name, "bus.messages.retried"));
    }

    /// <summary>A raw transport message with a bus type header and the given body.</summary>
    protected static OutgoingMessage Raw(string queue, string wireName, string body, string? version = null)
    {
        var headers = new Dictionary<string, string>
        {
            [MessageHeaders.MessageId] = Guid.NewGuid().ToString(),
            [MessageHeaders.MessageType] = wireName,
        };
        if (version is not null)
        {
            headers[MessageHeaders.MessageVersion] = version;
        }

        return new(Destination.Queue(queue), new TransportMessage(headers, Encoding.UTF8.GetBytes(body)));
    }

    private static async Task<IReceivedMessage?> ReceiveOneAsync(TestEndpoint endpoint)
    {
        while (true)
        {
            var received = await endpoint.Transport.ReceiveAsync(endpoint.Name, 1, TimeSpan.FromSeconds(2), default);
            if (received.Count > 0)
            {
                return received[0];
            }
        }
    }
}

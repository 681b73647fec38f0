using Bus.Conformance;
using Bus.Hosting;
using Bus.Leases;
using Bus.Testing;
using Bus.Tests.Support;
using Bus.Transports;
using Bus.Transports.InMemory;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Tests.Hosting;

/// <summary>Options validation, routing rules and start-up (strict mode) checks.</summary>
public sealed class ConfigurationTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _time = new();
    private readonly InMemoryBroker _broker;
    private readonly List<TestEndpoint> _endpoints = [];

    public ConfigurationTests()
    {
        _broker = new InMemoryBroker(_time);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var endpoint in _endpoints)
        {
            await new TimeDriver(_time, TimeSpan.FromSeconds(30)).AwaitAsync(endpoint.StopAsync());
            await endpoint.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(null, true, "Set bus.EndpointName")]
    [InlineData("has space", true, "not a valid EndpointName")]
    [InlineData("orders", false, "Choose a transport")]
    public void AddBus_rejects_a_missing_or_invalid_endpoint_and_transport(string? name, bool transport, string expected)
    {
        var error = Assert.Throws<BusConfigurationException>(() => new ServiceCollection().AddBus(bus =>
        {
            bus.EndpointName = name;
            if (transport)
            {
                bus.UseInMemoryTransport(_broker);
            }
        }));

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void AddBus_rejects_out_of_range_settings_naming_them()
    {
        Assert.Contains("MaxConcurrency", Invalid(b => b.MaxConcurrency = 0));
        Assert.Contains("Prefetch", Invalid(b => b.Prefetch = -1));
        Assert.Contains("ShutdownTimeout", Invalid(b => b.ShutdownTimeout = TimeSpan.FromHours(2)));
        Assert.Contains("HeartbeatInterval", Invalid(b => b.Profile = b.Profile with { HeartbeatInterval = b.Profile.LeaseDuration }));
        Assert.Contains("Retry policy: MaxAttempts", Invalid(b => b.Retry.MaxAttempts = 0));
        Assert.Contains("StepRetention", Invalid(b => b.StepRetention = TimeSpan.FromSeconds(5)));
        Assert.Contains("Profile of LongJob", Invalid(b => b.ConfigureHandling<LongJob>(h => h.Profile = ExecutionProfile.LongRunning(TimeSpan.Zero))));
        Assert.Contains("at most 365 days", Invalid(b => b.Profile = b.Profile with { MaxRuntime = TimeSpan.MaxValue }));
    }

    [Fact]
    public async Task Workflow_status_query_resolves_on_an_endpoint_without_workflows_and_finds_nothing()
    {
        var endpoint = await StartAsync("noworkflows", b => b.AddHandler<DoWorkHandler>(), services: s => s.AddSingleton(new Recorder()));

        var query = endpoint.Services.GetRequiredService<global::Bus.Workflows.IWorkflowStatusQuery>();

        Assert.Null(await query.GetAsync("any.workflow", "id-1"));
    }

    [Fact]
    public void AddBus_twice_on_one_container_is_rejected()
    {
        var services = new ServiceCollection();
        services.AddBus(b => { b.EndpointName = "a"; b.UseInMemoryTransport(_broker); });

        Assert.Contains("twice", Assert.Throws<BusConfigurationException>(() => services.AddBus(b => { b.EndpointName = "b"; b.UseInMemoryTransport(_broker); })).Message);
    }

    [Fact]
    public void A_command_routed_to_two_owners_is_rejected()
    {
        var error = Assert.Throws<BusConfigurationException>(() => new ServiceCollection().AddBus(bus =>
        {
            bus.EndpointName = "sender";
            bus.UseInMemoryTransport(_broker);
            bus.RouteCommand<DoWork>("billing");
            bus.RouteCommand<DoWork>("shipping");
        }));

        Assert.Contains("exactly one owner", error.Message);
    }

    [Fact]
    public async Task Sending_and_publishing_the_wrong_kind_or_without_a_route_fails_clearly()
    {
        var endpoint = await StartAsync("router", b => b.AddMessage<DoWork>().AddMessage<WorkDone>());

        Assert.Contains("No route for command 'conformance.do-work'", (await Assert.ThrowsAsync<InvalidOperationException>(() => endpoint.Bus.SendAsync(new DoWork("t", "1")))).Message);
        Assert.Contains("is an event: publish it", (await Assert.ThrowsAsync<InvalidOperationException>(() => endpoint.Bus.SendAsync(new WorkDone("t", "1")))).Message);
        Assert.Contains("is a command: send it", (await Assert.ThrowsAsync<InvalidOperationException>(() => endpoint.Bus.PublishAsync(new DoWork("t", "1")))).Message);
        await Assert.ThrowsAsync<ArgumentException>(() => endpoint.Bus.PublishAsync(new WorkDone("t", "1"), new DeliveryOptions { Destination = "x" }));
    }

    [Fact]
    public async Task Delivery_options_are_validated()
    {
        var endpoint = await StartAsync("options", b => b.RouteCommand<DoWork>("elsewhere"));
        var reserved = new DeliveryOptions();
        reserved.Headers["bus-message-id"] = "forged";

        await Assert.ThrowsAsync<ArgumentException>(() => endpoint.Bus.SendAsync(new DoWork("t", "1"), new DeliveryOptions { Delay = TimeSpan.FromSeconds(1), DeliverAt = _time.GetUtcNow() }));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => endpoint.Bus.SendAsync(new DoWork("t", "1"), new DeliveryOptions { Delay = TimeSpan.FromSeconds(-1) }));
        Assert.Contains("reserved", (await Assert.ThrowsAsync<ArgumentException>(() => endpoint.Bus.SendAsync(new DoWork("t", "1"), reserved))).Message);
        Assert.Equal(0, _broker.CountMessages("elsewhere"));
    }

    [Fact]
    public async Task Oversized_message_fails_at_send_naming_the_limit()
    {
        var endpoint = await StartAsync("big", b => b.RouteCommand<DoWork>("elsewhere"), new InMemoryTransportOptions { MaxMessageSize = 1024 });

        var error = await Assert.ThrowsAsync<MessageTooLargeException>(() => endpoint.Bus.SendAsync(new DoWork("t", new string('x', 2000))));

        Assert.Equal(1024, error.Limit);
        Assert.Contains("1,024-byte limit", error.Message);
        Assert.Equal(0, _broker.CountMessages("elsewhere"));
    }

    [Fact]
    public async Task Delay_longer_than_the_transport_holds_is_made_in_hops_and_handled_once_when_due()
    {
        var recorder = new Recorder();
        using var probe = new BusProbe();
        var endpoint = await StartAsync("hops", b => b.AddHandler<DoWorkHandler>(),
            wrap: t => new CapabilityOverride(t, c => c with { MaxDelay = TimeSpan.FromMinutes(15) }),
            services: s => s.AddSingleton(recorder));
        var sentAt = _time.GetUtcNow();

        await endpoint.Bus.SendAsync(new DoWork("t", "later"), new DeliveryOptions { Delay = TimeSpan.FromMinutes(40) });
        await new TimeDriver(_time, TimeSpan.FromSeconds(30)) { Step = TimeSpan.FromSeconds(20) }.AwaitAsync(recorder.WhenAsync(all => all.Any()));

        var handled = Assert.Single(recorder.All);
        Assert.True(handled.At >= sentAt + TimeSpan.FromMinutes(40), $"handled at {handled.At:O}");
        Assert.Equal(1, handled.Attempt);
        Assert.Equal(2, probe.Count(endpoint.Name, "bus.messages.released")); // 15 + 15 + 10 minutes
    }

    [Fact]
    public async Task Strict_start_fails_when_the_transport_cannot_renew_leases_for_a_long_job()
    {
        var error = await Assert.ThrowsAsync<BusConfigurationException>(() => StartAsync("norenew",
            b => b.AddHandler<LongJobHandler>().ConfigureHandling<LongJob>(h => h.LongRunning(TimeSpan.FromHours(1))),
            wrap: t => new CapabilityOverride(t, c => c with { CanRenewLease = false })));

        Assert.Contains("handlers of LongJob may run for 01:00:00", error.Message);
        Assert.Contains("cannot renew leases", error.Message);
    }

    [Fact]
    public async Task Strict_start_fails_when_the_max_runtime_exceeds_the_transports_total_lease_time()
    {
        var error = await Assert.ThrowsAsync<BusConfigurationException>(() => StartAsync("toolong",
            b => b.AddHandler<LongJobHandler>().ConfigureHandling<LongJob>(h => h.LongRunning(TimeSpan.FromHours(13))),
            wrap: t => new CapabilityOverride(t, c => c with { Name = "sqs-like", MaxTotalLeaseTime = TimeSpan.FromHours(12) })));

        Assert.Contains("may run for 13:00:00, but the sqs-like transport holds a message for at most 12:00:00", error.Message);
    }

    [Fact]
    public async Task Strict_start_fails_when_a_lease_is_longer_than_the_transport_grants()
    {
        var error = await Assert.ThrowsAsync<BusConfigurationException>(() => StartAsync("longlease",
            b => b.AddHandler<LongJobHandler>().ConfigureHandling<LongJob>(h => h.LongRunning(TimeSpan.FromHours(1))),
            wrap: t => new CapabilityOverride(t, c => c with { MaxLeaseDuration = TimeSpan.FromMinutes(2) })));

        Assert.Contains("ask for a lease of 00:05:00", error.Message);
    }

    [Fact]
    public async Task Without_strict_mode_the_endpoint_starts_despite_the_problem_and_handles_messages()
    {
        var recorder = new Recorder();
        using var probe = new BusProbe();
        var endpoint = await StartAsync("lenient",
            b =>
            {
                b.Strict = false;
                b.AddHandler<LongJobHandler>().ConfigureHandling<LongJob>(h => h.LongRunning(TimeSpan.FromHours(1)));
            },
            wrap: t => new CapabilityOverride(t, c => c with { CanRenewLease = false }),
            services: s => s.AddSingleton(recorder));

        await endpoint.Bus.SendAsync(new LongJob("t", "lenient", Steps: 2));
        await new TimeDriver(_time, TimeSpan.FromSeconds(30)).AwaitAsync(probe.WhenAsync(endpoint.Name, "bus.messages.completed", 1));

        Assert.Equal([0, 1], recorder.Steps.Select(s => s.Step));
        Assert.Equal(0, probe.Count(endpoint.Name, "bus.lease.renewals"));
    }

    [Fact]
    public async Task Strict_start_fails_when_a_message_type_has_a_default_priority_the_transport_cannot_order()
    {
        var error = await Assert.ThrowsAsync<BusConfigurationException>(() => StartAsync("noprio",
            b => b.AddHandler<UrgentJobHandler>(),
            wrap: t => new CapabilityOverride(t, c => c with { Name = "fifo-only", PriorityOrdering = PriorityOrdering.None })));

        Assert.Contains("UrgentJob has [MessagePriority(7)], but the fifo-only transport does not order messages by priority", error.Message);
    }

    [Fact]
    public async Task A_send_with_a_priority_the_transport_cannot_order_throws_in_strict_mode_and_travels_as_a_header_otherwise()
    {
        var strict = await StartAsync("prio-strict", b => b.AddHandler<DoWorkHandler>(),
            wrap: t => new CapabilityOverride(t, c => c with { PriorityOrdering = PriorityOrdering.None }));
        var error = await Assert.ThrowsAsync<NotSupportedException>(
            () => strict.Bus.SendAsync(new DoWork("t", "strict"), new DeliveryOptions { Priority = 2 }));
        Assert.Contains("does not order messages by priority", error.Message);
        await strict.Bus.SendAsync(new DoWork("t", "zero"), new DeliveryOptions { Priority = 0 }); // nothing to ignore

        var recorder = new Recorder();
        var lenient = await StartAsync("prio-lenient",
            b =>
            {
                b.Strict = false;
                b.AddHandler<DoWorkHandler>();
            },
            wrap: t => new CapabilityOverride(t, c => c with { PriorityOrdering = PriorityOrdering.None }),
            services: s => s.AddSingleton(recorder));
        await lenient.Bus.SendAsync(new DoWork("t", "lenient"), new DeliveryOptions { Priority = 2 });
        await new TimeDriver(_time, TimeSpan.FromSeconds(30)).AwaitAsync(recorder.WhenAsync(all => all.Any(h => h.Message is DoWork { Id: "lenient" })));

        Assert.Equal("2", recorder.All.Single(h => h.Message is DoWork { Id: "lenient" }).Headers[MessageHeaders.Priority]);
    }

    [Fact]
    public async Task A_types_default_priority_rides_as_a_header_unless_the_send_sets_its_own()
    {
        var recorder = new Recorder();
        var endpoint = await StartAsync("prio-default", b => b.AddHandler<UrgentJobHandler>(), services: s => s.AddSingleton(recorder));

        await endpoint.Bus.SendAsync(new UrgentJob("default"));
        await endpoint.Bus.SendAsync(new UrgentJob("lowered"), new DeliveryOptions { Priority = 0 });
        await endpoint.Bus.SendAsync(new UrgentJob("raised"), new DeliveryOptions { Priority = 9 });
        await new TimeDriver(_time, TimeSpan.FromSeconds(30)).AwaitAsync(recorder.WhenAsync(all => all.Count == 3));

        var headers = recorder.All.ToDictionary(h => ((UrgentJob)h.Message).Id, h => h.Headers.GetValueOrDefault(MessageHeaders.Priority));
        Assert.Equal("7", headers["default"]);
        Assert.Null(headers["lowered"]);
        Assert.Equal("9", headers["raised"]);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(10)]
    public async Task A_send_priority_out_of_range_is_refused(int priority)
    {
        var endpoint = await StartAsync("prio-range", b => b.AddHandler<DoWorkHandler>());

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => endpoint.Bus.SendAsync(new DoWork("t", "x"), new DeliveryOptions { Priority = priority }));

        Assert.Contains("DeliveryOptions.Priority must be 0 to 9", error.Message);
    }

    /// <summary>A command with a default priority.</summary>
    [MessagePriority(7)]
    public sealed record UrgentJob(string Id) : ICommand;

    /// <summary>Records every <see cref="UrgentJob"/>.</summary>
    public sealed class UrgentJobHandler(Recorder recorder, TimeProvider time) : IHandleMessages<UrgentJob>
    {
        /// <inheritdoc />
        public Task HandleAsync(UrgentJob message, IMessageContext context)
        {
            recorder.Record(new Handled(nameof(UrgentJobHandler), message, context.MessageId, context.Headers, context.Attempt, context.Queue, time.GetUtcNow()));
            return Task.CompletedTask;
        }
    }

    private string Invalid(Action<BusConfiguration> change) =>
        Assert.Throws<BusConfigurationException>(() => new ServiceCollection().AddBus(bus =>
        {
            bus.EndpointName = "x";
            bus.UseInMemoryTransport(_broker);
            change(bus);
        })).Message;

    private async Task<TestEndpoint> StartAsync(
        string name,
        Action<BusConfiguration> configure,
        InMemoryTransportOptions? options = null,
        Func<ITransport, ITransport>? wrap = null,
        Action<IServiceCollection>? services = null)
    {
        var endpoint = await TestEndpoint.StartAsync(name + "-" + Guid.NewGuid().ToString("N")[..6], _time, s => services?.Invoke(s), bus =>
        {
            var inner = new InMemoryTransport(_broker, options);
            bus.UseTransport(_ => wrap?.Invoke(inner) ?? inner);
            configure(bus);
        });
        _endpoints.Add(endpoint);
        return endpoint;
    }
}

using Bus.Conformance;
using Bus.Hosting;
using Bus.Steps;
using Bus.Testing;
using Bus.Tests.Support;
using Bus.Transports;
using Bus.Transports.InMemory;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Tests.Hosting;

/// <summary>On a transport shared between hosts, strict start-up refuses state kept in one host's memory.</summary>
public sealed class SharedStoreChecksTests
{
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 1, 5, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task In_memory_step_and_workflow_stores_are_refused_naming_the_durable_ones()
    {
        var error = await Assert.ThrowsAsync<BusConfigurationException>(() => StartAsync(bus => bus.AddWorkflow<Bus.Conformance.Workflows.OrderWorkflow>()));

        Assert.Contains("shared-test transport is shared between hosts, but the step store is in memory", error.Message);
        Assert.Contains("UseDynamoDbStepStore", error.Message);
        Assert.Contains("the workflow store is in memory", error.Message);
        Assert.Contains("bus.AllowInMemoryStores = true", error.Message);
    }

    [Fact]
    public async Task An_explicit_opt_in_or_a_durable_store_starts()
    {
        await using (await StartAsync(bus => bus.AllowInMemoryStores = true))
        {
        }

        await using (await StartAsync(_ => { }, services => services.AddSingleton<IStepStore>(new DurableLookingStepStore())))
        {
        }
    }

    [Fact]
    public async Task Without_workflows_the_workflow_store_is_not_checked()
    {
        var error = await Assert.ThrowsAsync<BusConfigurationException>(() => StartAsync(_ => { }));

        Assert.Contains("the step store is in memory", error.Message);
        Assert.DoesNotContain("workflow store", error.Message);
    }

    [Fact]
    public async Task An_in_memory_schedule_store_is_refused_when_schedules_are_configured()
    {
        var error = await Assert.ThrowsAsync<BusConfigurationException>(() => StartAsync(bus =>
            bus.Schedule<DoWork>("0 * * * *", TimeZoneInfo.Utc, _ => new DoWork("t", "scheduled")),
            services => services.AddSingleton<IStepStore>(new DurableLookingStepStore())));

        Assert.Contains("the schedule store is in memory on this host: every host would fire each tick", error.Message);
        Assert.Contains("UseDynamoDbScheduleStore", error.Message);
        Assert.DoesNotContain("step store", error.Message);
    }

    private Task<TestEndpoint> StartAsync(Action<BusConfiguration> configure, Action<IServiceCollection>? services = null) =>
        TestEndpoint.StartAsync("shared-" + Guid.NewGuid().ToString("N")[..8], _time,
            s =>
            {
                s.AddSingleton(new Recorder());
                services?.Invoke(s);
            },
            bus =>
            {
                var broker = new InMemoryBroker(_time);
                bus.UseTransport(_ => new SharedTransport(new InMemoryTransport(broker)));
                bus.AddHandler<DoWorkHandler>();
                configure(bus);
            });

    /// <summary>An in-memory transport that says it is shared between hosts, as SQS does.</summary>
    private sealed class SharedTransport(ITransport inner) : ITransport
    {
        public TransportCapabilities Capabilities => inner.Capabilities with { Name = "shared-test", SharedBetweenHosts = true };

        public IDeadLetterQueue DeadLetters => inner.DeadLetters;

        public Task ProvisionAsync(TransportTopology topology, CancellationToken cancellationToken) => inner.ProvisionAsync(topology, cancellationToken);

        public Task SendAsync(IReadOnlyList<OutgoingMessage> messages, CancellationToken cancellationToken) => inner.SendAsync(messages, cancellationToken);

        public ValueTask<IReadOnlyList<IReceivedMessage>> ReceiveAsync(string queue, int maxMessages, TimeSpan leaseDuration, CancellationToken cancellationToken) =>
            inner.ReceiveAsync(queue, maxMessages, leaseDuration, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    /// <summary>Any step store other than the in-memory one counts as durable.</summary>
    private sealed class DurableLookingStepStore : IStepStore
    {
        private readonly InMemoryStepStore _inner = new();

        public Task<string?> GetAsync(string jobId, string stepName, CancellationToken cancellationToken) => _inner.GetAsync(jobId, stepName, cancellationToken);

        public Task SaveAsync(string jobId, string stepName, string resultJson, CancellationToken cancellationToken) => _inner.SaveAsync(jobId, stepName, resultJson, cancellationToken);

        public Task<IReadOnlyList<string>> ListAsync(string jobId, CancellationToken cancellationToken) => _inner.ListAsync(jobId, cancellationToken);

        public Task<int> DeleteJobsFinishedBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) => _inner.DeleteJobsFinishedBeforeAsync(cutoff, cancellationToken);
    }
}

using Bus.Aws;
using Bus.Aws.Ecs;
using Bus.Conformance;
using Bus.Conformance.SystemMessages;
using Bus.Hosting;
using Bus.Testing;
using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Tests.SystemMessages;

public sealed class SystemMessageTests
{
    private static readonly string Fixture = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "SystemMessages", "Fixtures", "ecs-task-state-change.json"));

    [Fact]
    public async Task An_ECS_event_without_bus_headers_reaches_a_plain_handler_as_EcsTaskStateChange()
    {
        var recorder = new Recorder();
        await using var harness = await BusTestHarness.StartAsync(
            bus => bus.AddHandler<EcsEventHandler>().SystemMessages.MapEcsTaskStateChange(), // handler before the map: order does not matter
            services => services.AddSingleton(recorder));

        await harness.DeliverRawAsync(Fixture);

        EcsFixture.AssertParsed(Assert.IsType<EcsTaskStateChange>(Assert.Single(recorder.All).Message));
        Assert.Empty(await harness.DeadLettersAsync());
    }

    [Fact]
    public async Task An_ECS_event_on_an_endpoint_that_maps_no_system_messages_is_dead_lettered_with_a_reason()
    {
        var recorder = new Recorder();
        await using var harness = await BusTestHarness.StartAsync(bus => bus.AddHandler<DoWorkHandler>(), services => services.AddSingleton(recorder));

        await harness.DeliverRawAsync(Fixture);

        var dead = Assert.Single(await harness.DeadLettersAsync());
        Assert.Contains("no bus-message-type header", dead.Failure.Reason);
        Assert.Equal(Fixture, System.Text.Encoding.UTF8.GetString(dead.Message.Body.Span));
    }

    [Fact]
    public async Task A_payload_that_matches_no_map_is_dead_lettered_naming_what_is_mapped()
    {
        var recorder = new Recorder();
        await using var harness = await BusTestHarness.StartAsync(
            bus => bus.AddHandler<EcsEventHandler>().SystemMessages.MapEcsTaskStateChange(),
            services => services.AddSingleton(recorder));

        await harness.DeliverRawAsync(Fixture.Replace("\"aws.ecs\"", "\"aws.batch\"", StringComparison.Ordinal));

        var dead = Assert.Single(await harness.DeadLettersAsync());
        Assert.Contains("matches no registered system message (EventBridge aws.ecs / ECS Task State Change)", dead.Failure.Reason);
        Assert.Empty(recorder.All);
    }

    [Fact]
    public async Task A_workflow_started_by_a_system_message_starts_once_even_when_EventBridge_delivers_it_twice()
    {
        await using var harness = await BusTestHarness.StartAsync(bus => bus.AddWorkflow<TaskWatchWorkflow>().SystemMessages.MapEcsTaskStateChange());

        await harness.DeliverRawAsync(Fixture);
        await harness.DeliverRawAsync(Fixture); // EventBridge delivers at least once: same event id

        var watch = await harness.FindWorkflowAsync<TaskWatchWorkflow>("video-42");
        Assert.NotNull(watch);
        var state = watch.GetState<TaskWatch>();
        Assert.Equal(1, state.Events);
        Assert.Equal(137, state.ExitCode);
        Assert.Equal("event:3317b2af-7005-47ee-b5a4-9a6e3f1c2b7d", Assert.Single(watch.History).MessageId);
        Assert.Empty(await harness.DeadLettersAsync());
    }

    public sealed record TaskWatch
    {
        public string? StartedBy { get; set; }

        public int Events { get; set; }

        public int? ExitCode { get; set; }
    }

    /// <summary>Started directly by the ECS event of a task it did not launch.</summary>
    public sealed class TaskWatchWorkflow : Workflow<TaskWatch>
    {
        protected override void Configure(WorkflowConfigurator<TaskWatch> workflow) => workflow
            .CorrelateBy(s => s.StartedBy)
            .StartedBy<EcsTaskStateChange>(e => e.Detail.StartedBy ?? e.Detail.TaskArn, (change, context) =>
            {
                context.State.Events++;
                context.State.ExitCode = change.Detail.Containers.FirstOrDefault()?.ExitCode;
                return Task.CompletedTask;
            });
    }

    private sealed class EcsEventHandler(Recorder recorder, TimeProvider time) : IHandleMessages<EcsTaskStateChange>
    {
        public Task HandleAsync(EcsTaskStateChange message, IMessageContext context)
        {
            recorder.Record(new Handled(nameof(EcsEventHandler), message, context.MessageId, context.Headers, context.Attempt, context.Queue, time.GetUtcNow()));
            return Task.CompletedTask;
        }
    }
}

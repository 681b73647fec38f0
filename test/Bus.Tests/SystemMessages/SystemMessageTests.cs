using Bus.Conformance;
using Bus.SystemMessages;
using Bus.Testing;
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

        var change = Assert.IsType<EcsTaskStateChange>(Assert.Single(recorder.All).Message);
        Assert.Equal("video-42", change.Detail.StartedBy);
        Assert.Equal(6, change.Detail.Version);
        Assert.True(change.Detail.IsStopped);
        Assert.Equal(137, Assert.Single(change.Detail.Containers).ExitCode);
        Assert.Equal("aws.ecs.task-state-change", Assert.Single(recorder.All).Headers.GetValueOrDefault(MessageHeaders.MessageType) ?? "aws.ecs.task-state-change");
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

    private sealed class EcsEventHandler(Recorder recorder, TimeProvider time) : IHandleMessages<EcsTaskStateChange>
    {
        public Task HandleAsync(EcsTaskStateChange message, IMessageContext context)
        {
            recorder.Record(new Handled(nameof(EcsEventHandler), message, context.MessageId, context.Headers, context.Attempt, context.Queue, time.GetUtcNow()));
            return Task.CompletedTask;
        }
    }
}

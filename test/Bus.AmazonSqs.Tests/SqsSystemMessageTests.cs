using Bus.AmazonSqs.Sqs;
using Bus.Conformance;
using Bus.Hosting;
using Bus.SystemMessages;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.AmazonSqs.Tests;

/// <summary>System messages over SQS, against fauxqs: an EventBridge event delivered to an endpoint's queue as
/// EventBridge delivers it (the event JSON as the body, no message attributes) reaches the typed handler.</summary>
public sealed class SqsSystemMessageTests : IAsyncLifetime
{
    private static readonly string Fixture = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "SystemMessages", "Fixtures", "ecs-task-state-change.json"));
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly Recorder _recorder = new();
    private readonly BusProbe _probe = new();
    private TestEndpoint? _endpoint;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_endpoint is not null)
        {
            await _endpoint.DisposeAsync();
        }

        _probe.Dispose();
    }

    [Fact]
    public async Task A_raw_ECS_task_state_change_on_the_queue_reaches_the_typed_handler()
    {
        _endpoint = await TestEndpoint.StartAsync(Fauxqs.UniqueName("ecs-events"), TimeProvider.System,
            services => services.AddSingleton(_recorder),
            bus =>
            {
                bus.UseAmazonSqs(o => Fauxqs.Configure(o));
                bus.AddHandler<EcsEventHandler>().SystemMessages.MapEcsTaskStateChange();
            });
        var raw = Fauxqs.RawSqs();
        var url = (await raw.GetQueueUrlAsync("bt-" + _endpoint.Name, default))!;

        // As an EventBridge rule with an SQS target delivers it: the event itself, without message attributes.
        var response = await raw.SendMessageBatchAsync(url, [new SendMessageBatchEntry { Id = "0", MessageBody = Fixture }], default);
        var sqsMessageId = Assert.Single(response.Successful!).MessageId;
        await _recorder.WhenAsync(all => all.Count > 0).WaitAsync(Patience);
        await _probe.WhenAsync(_endpoint.Name, "bus.messages.completed", 1).WaitAsync(Patience);

        var handled = Assert.Single(_recorder.All);
        Assert.Equal(nameof(EcsEventHandler), handled.Handler);
        Assert.Equal(_endpoint.Name, handled.Endpoint);
        Assert.Equal(1, handled.Attempt);
        Assert.Equal(sqsMessageId, handled.MessageId); // no bus id on the wire: the SQS message id stands in
        var change = Assert.IsType<EcsTaskStateChange>(handled.Message);
        Assert.Equal("3317b2af-7005-47ee-b5a4-9a6e3f1c2b7d", change.Id);
        Assert.Equal("aws.ecs", change.Source);
        Assert.Equal("ECS Task State Change", change.DetailType);
        Assert.Equal("111122223333", change.Account);
        Assert.Equal("eu-west-1", change.Region);
        Assert.Equal(new DateTimeOffset(2026, 11, 20, 3, 14, 15, TimeSpan.Zero), change.Time);
        Assert.Equal(["arn:aws:ecs:eu-west-1:111122223333:task/encoding/0c1d2e3f4a5b6c7d8e9f"], change.Resources);
        Assert.Equal("arn:aws:ecs:eu-west-1:111122223333:task/encoding/0c1d2e3f4a5b6c7d8e9f", change.Detail.TaskArn);
        Assert.Equal("arn:aws:ecs:eu-west-1:111122223333:cluster/encoding", change.Detail.ClusterArn);
        Assert.Equal("family:encode-video", change.Detail.Group);
        Assert.Equal("video-42", change.Detail.StartedBy);
        Assert.Equal("FARGATE", change.Detail.LaunchType);
        Assert.Equal("STOPPED", change.Detail.LastStatus);
        Assert.True(change.Detail.IsStopped);
        Assert.Equal("EssentialContainerExited", change.Detail.StopCode);
        Assert.Equal("Essential container in task exited", change.Detail.StoppedReason);
        Assert.Equal(new DateTimeOffset(2026, 11, 20, 3, 14, 14, 900, TimeSpan.Zero), change.Detail.StoppedAt);
        Assert.Equal(6, change.Detail.Version);
        var container = Assert.Single(change.Detail.Containers);
        Assert.Equal("encoder", container.Name);
        Assert.Equal(137, container.ExitCode);
        Assert.Equal("OutOfMemoryError: Container killed due to memory usage", container.Reason);
        Assert.Empty(await _endpoint.DeadLetters.PeekAsync(_endpoint.Name, 10, default));
        Assert.Empty(await raw.ReceiveMessageAsync(url, 10, 0, 0, default)); // completed: deleted from the queue
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

using Amazon.SQS.Model;
using Bus.AmazonSqs.Sqs;
using Bus.Aws;
using Bus.Aws.Ecs;
using Bus.Conformance;
using Bus.Conformance.SystemMessages;
using Bus.Hosting;
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
                bus.AllowInMemoryStores = true; // one host, no steps or workflows
                bus.AddHandler<EcsEventHandler>().SystemMessages.MapEcsTaskStateChange();
            });
        var raw = Fauxqs.RawSqs();
        var url = (await raw.GetQueueUrlAsync("bt-" + _endpoint.Name, default))!;

        // As an EventBridge rule with an SQS target delivers it: the event itself, without message attributes.
        var response = await raw.SendMessageBatchAsync(url, [new SendMessageBatchRequestEntry { Id = "0", MessageBody = Fixture }], default);
        var sqsMessageId = Assert.Single(response.Successful!).MessageId;
        await _recorder.WhenAsync(all => all.Count > 0).WaitAsync(Patience);
        await _probe.WhenAsync(_endpoint.Name, "bus.messages.completed", 1).WaitAsync(Patience);

        var handled = Assert.Single(_recorder.All);
        Assert.Equal(nameof(EcsEventHandler), handled.Handler);
        Assert.Equal(_endpoint.Name, handled.Endpoint);
        Assert.Equal(1, handled.Attempt);
        Assert.Equal(sqsMessageId, handled.MessageId); // no bus id on the wire: the SQS message id stands in
        EcsFixture.AssertParsed(Assert.IsType<EcsTaskStateChange>(handled.Message));
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

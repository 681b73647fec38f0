using Bus.Aws;
using Bus.Conformance;
using Bus.Hosting;
using Bus.Testing;
using Bus.Transports;
using Bus.Transports.InMemory;
using Bus.Workflows;
using Bus.Workflows.ContainerTasks;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Tests.Workflows;

public sealed class VideoEncodingWorkflowTests : IAsyncLifetime
{
    private readonly ScriptedTaskLauncher _launcher = new();
    private BusTestHarness _harness = null!;

    public async Task InitializeAsync() =>
        _harness = await BusTestHarness.StartAsync(
            bus =>
            {
                bus.SystemMessages.MapEcsTaskStateChange();
                bus.AddWorkflow<VideoEncodingWorkflow>("media.video-encoding");
            },
            services => services.AddSingleton<IContainerTaskLauncher>(_launcher));

    public Task DisposeAsync() => _harness.DisposeAsync().AsTask();

    [Fact]
    public async Task Exit_0_publishes_VideoEncoded_and_completes()
    {
        await _harness.SendAsync(new EncodeVideo("video-1"));
        var (request, arn) = Assert.Single(_launcher.Launched);
        Assert.Equal("video-1", request.StartedBy);
        Assert.Equal("1", request.Environment["ATTEMPT"]);

        await _harness.DeliverRawAsync(ScriptedTaskLauncher.Event(arn, "video-1", version: 2, status: "RUNNING"));
        await _harness.DeliverRawAsync(ScriptedTaskLauncher.Event(arn, "video-1", version: 3, exitCode: 0));

        Assert.Equal(new VideoEncoded("video-1", 1), Assert.Single(_harness.Published<VideoEncoded>()));
        var instance = (await _harness.FindWorkflowAsync<VideoEncodingWorkflow>("video-1"))!;
        Assert.Equal(WorkflowStatus.Completed, instance.Status);
        Assert.Equal(3, instance.History.Count);
    }

    [Fact]
    public async Task Non_zero_exits_rerun_with_back_off_and_fail_after_the_bound()
    {
        var start = _harness.Time.GetUtcNow();
        await _harness.SendAsync(new EncodeVideo("video-2"));
        for (var attempt = 1; attempt <= VideoEncodingWorkflow.MaxAttempts; attempt++)
        {
            Assert.Equal(attempt, _launcher.Launched.Count);
            await _harness.DeliverRawAsync(ScriptedTaskLauncher.Event(_launcher.Launched[^1].TaskArn, "video-2", version: 3, exitCode: 137));
            await _harness.AdvanceTimeAsync(TimeSpan.FromMinutes(10));
        }

        Assert.Equal(VideoEncodingWorkflow.MaxAttempts, _launcher.Launched.Count);
        var retries = _harness.Scheduled.Where(m => m.MessageType == typeof(RetryEncoding).FullName).ToList();
        Assert.Equal([TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(2)], retries.Select(r => r.DueAt!.Value - r.SentAt));
        Assert.Equal(start + TimeSpan.FromMinutes(12), retries[1].DueAt);

        var failed = Assert.Single(_harness.Published<VideoEncodingFailed>());
        Assert.Equal(3, failed.Attempts);
        var instance = (await _harness.FindWorkflowAsync<VideoEncodingWorkflow>("video-2"))!;
        Assert.Equal(WorkflowStatus.Failed, instance.Status);
        Assert.Equal("encoder exited with 137 on attempt 3 of 3", instance.FailureReason);
        Assert.Equal([137, 137, 137], instance.GetState<VideoEncodingState>().ExitCodes);
        Assert.Empty(_harness.Published<VideoEncoded>());
    }

    [Fact]
    public async Task Duplicate_and_out_of_order_events_are_ignored_by_event_id_and_detail_version()
    {
        await _harness.SendAsync(new EncodeVideo("video-3"));
        var first = _launcher.Launched[0].TaskArn;

        var stopped = ScriptedTaskLauncher.Event(first, "video-3", version: 4, exitCode: 1, eventId: "evt-stop-1");
        await _harness.DeliverRawAsync(stopped);
        await _harness.DeliverRawAsync(stopped); // redelivered by EventBridge: same event id
        await _harness.DeliverRawAsync(ScriptedTaskLauncher.Event(first, "video-3", version: 2, status: "RUNNING")); // older, late
        await _harness.DeliverRawAsync(ScriptedTaskLauncher.Event(first, "video-3", version: 4, exitCode: 1)); // same version, new id

        Assert.Single(_harness.Scheduled);
        await _harness.AdvanceTimeAsync(TimeSpan.FromMinutes(1));
        var second = Assert.Single(_launcher.Launched, l => l.TaskArn != first).TaskArn;

        await _harness.DeliverRawAsync(ScriptedTaskLauncher.Event(first, "video-3", version: 5, exitCode: 0)); // a stale run's event
        Assert.Empty(_harness.Published<VideoEncoded>());
        await _harness.DeliverRawAsync(ScriptedTaskLauncher.Event(second, "video-3", version: 3, exitCode: 0));

        Assert.Equal(new VideoEncoded("video-3", 2), Assert.Single(_harness.Published<VideoEncoded>()));
        var instance = (await _harness.FindWorkflowAsync<VideoEncodingWorkflow>("video-3"))!;
        Assert.Equal(WorkflowStatus.Completed, instance.Status);
        Assert.Equal([1, 0], instance.GetState<VideoEncodingState>().ExitCodes);
        Assert.Equal(["EncodeVideo", "Stop", "RetryEncoding", "Stop"], instance.History.Select(h => h.MessageType.EndsWith("EncodeVideo") ? "EncodeVideo" : h.MessageType.EndsWith("RetryEncoding") ? "RetryEncoding" : "Stop"));
        Assert.Equal("event:evt-stop-1", instance.History[1].MessageId);
        Assert.Empty(await _harness.DeadLettersAsync());
    }
}

/// <summary>Runs real processes through <see cref="LocalProcessTaskLauncher"/>: their exits arrive as ECS events
/// through the transport, exactly as on AWS.</summary>
public sealed class LocalProcessVideoEncodingTests : IAsyncLifetime
{
    private readonly ManualTimeProvider _time = new();
    private readonly Recorder _recorder = new();
    private TestEndpoint _endpoint = null!;
    private LocalProcessTaskLauncher? _launcher;

    public async Task InitializeAsync()
    {
        var name = $"encoding-{Guid.NewGuid():N}"[..24];
        var broker = new InMemoryBroker(_time);
        _endpoint = await TestEndpoint.StartAsync(name, _time,
            services =>
            {
                services.AddSingleton(_recorder);
                services.AddSingleton<IContainerTaskLauncher>(sp =>
                    _launcher = new LocalProcessTaskLauncher(sp.GetRequiredService<ITransport>(), name, _time));
            },
            bus =>
            {
                bus.UseInMemoryTransport(broker);
                bus.SystemMessages.MapEcsTaskStateChange();
                bus.AddWorkflow<VideoEncodingWorkflow>();
                bus.AddHandler<VideoOutcomeRecorder>();
            });
    }

    public async Task DisposeAsync()
    {
        if (_launcher is not null)
        {
            await _launcher.DisposeAsync();
        }

        await new TimeDriver(_time, TimeSpan.FromSeconds(30)).AwaitAsync(_endpoint.StopAsync());
        await _endpoint.DisposeAsync();
    }

    [Fact]
    public async Task A_real_process_that_exits_3_then_0_is_rerun_and_completes()
    {
        var driver = new TimeDriver(_time, TimeSpan.FromSeconds(60));
        await _endpoint.Bus.SendAsync(new EncodeVideo("video-local", """[ "$ATTEMPT" -ge 2 ] && exit 0 || exit 3"""));

        await driver.AwaitAsync(_recorder.WhenAsync(all => all.Any(h => h.Message is VideoEncoded or VideoEncodingFailed)));

        Assert.Equal(new VideoEncoded("video-local", 2), Assert.Single(_recorder.All).Message);
        var instance = (await _endpoint.Services.GetRequiredService<IWorkflowStatusQuery>().FindAsync<VideoEncodingWorkflow>("video-local"))!;
        Assert.Equal(WorkflowStatus.Completed, instance.Status);
        Assert.Equal([3, 0], instance.GetState<VideoEncodingState>().ExitCodes);
    }

    private sealed class VideoOutcomeRecorder(Recorder recorder, TimeProvider time) : IHandleMessages<VideoEncoded>, IHandleMessages<VideoEncodingFailed>
    {
        public Task HandleAsync(VideoEncoded message, IMessageContext context) => Record(message, context);

        public Task HandleAsync(VideoEncodingFailed message, IMessageContext context) => Record(message, context);

        private Task Record(object message, IMessageContext context)
        {
            recorder.Record(new Handled(nameof(VideoOutcomeRecorder), message, context.MessageId, context.Headers, context.Attempt, context.Queue, time.GetUtcNow()));
            return Task.CompletedTask;
        }
    }
}

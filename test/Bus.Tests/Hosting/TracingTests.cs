using System.Collections.Concurrent;
using System.Diagnostics;
using Bus.Conformance;
using Bus.Hosting;
using Bus.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Tests.Hosting;

public sealed class TracingTests : IDisposable
{
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _processed = new();

    public TracingTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Bus",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                _stopped.Enqueue(activity);
                if (activity.Kind == ActivityKind.Consumer && activity.GetTagItem("messaging.message.id") is string id)
                {
                    _processed.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task The_process_span_of_a_message_is_a_child_of_its_create_span_even_without_an_ambient_activity()
    {
        var recorder = new Recorder();
        await using var harness = await BusTestHarness.StartAsync(bus => bus.AddHandler<DoWorkHandler>(), services => services.AddSingleton(recorder));
        var id = $"traced-{Guid.NewGuid():N}";
        Activity.Current = null;

        await harness.SendAsync(new DoWork("trace", "t1"), new DeliveryOptions { MessageId = id });
        await _processed.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task.WaitAsync(harness.Patience);

        var mine = _stopped.Where(a => Equals(a.GetTagItem("messaging.message.id"), id)).ToList();
        var create = Assert.Single(mine, a => a.OperationName.StartsWith("create ", StringComparison.Ordinal));
        var process = Assert.Single(mine, a => a.OperationName.StartsWith("process ", StringComparison.Ordinal));
        Assert.Equal(ActivityKind.Producer, create.Kind);
        Assert.Equal(ActivityKind.Consumer, process.Kind);
        Assert.Equal(create.TraceId, process.TraceId);
        Assert.Equal(create.SpanId, process.ParentSpanId);
        Assert.Equal(create.Id, Assert.Single(recorder.All).Headers[MessageHeaders.TraceParent]);
    }
}

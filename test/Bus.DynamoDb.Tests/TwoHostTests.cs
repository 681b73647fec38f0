using Bus.Conformance;
using Bus.Hosting;
using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.DynamoDb.Tests;

[MessageName("dynamodb-two-hosts.start-shipping")]
public sealed record StartShipping(string OrderId) : ICommand;

[MessageName("dynamodb-two-hosts.order-shipped")]
public sealed record OrderShipped(string OrderId) : IEvent;

[MessageName("dynamodb-two-hosts.export")]
public sealed record ExportReport(string ReportId) : ICommand;

/// <summary>Which host a handler runs on.</summary>
public sealed record HostName(string Name);

public sealed record ShippingState
{
    public string? OrderId { get; set; }

    public string? StartedOn { get; set; }
}

/// <summary>Started by a command, continued by an event; records the host of each.</summary>
public sealed class ShippingWorkflow(Recorder recorder, HostName host, TimeProvider time) : Workflow<ShippingState>
{
    protected override void Configure(WorkflowConfigurator<ShippingState> workflow) => workflow
        .CorrelateBy(s => s.OrderId)
        .StartedBy<StartShipping>(m => m.OrderId, StartAsync)
        .Handles<OrderShipped>(m => m.OrderId, ShippedAsync);

    private Task StartAsync(StartShipping message, WorkflowContext<ShippingState> context)
    {
        context.State.StartedOn = host.Name;
        recorder.Record(new Handled($"started@{host.Name}", message, context.Message.MessageId, context.Message.Headers, context.Message.Attempt, context.Message.Queue, time.GetUtcNow()));
        return Task.CompletedTask;
    }

    private Task ShippedAsync(OrderShipped message, WorkflowContext<ShippingState> context)
    {
        recorder.Record(new Handled(
            $"continued@{host.Name} (started on {context.State.StartedOn})", message, context.Message.MessageId, context.Message.Headers,
            context.Message.Attempt, context.Message.Queue, time.GetUtcNow()));
        context.Complete();
        return Task.CompletedTask;
    }
}

/// <summary>Two steps; host A goes down (throws) between them.</summary>
public sealed class ExportReportHandler(Recorder recorder, HostName host, TimeProvider time) : IHandleMessages<ExportReport>
{
    public async Task HandleAsync(ExportReport message, IMessageContext context)
    {
        void Record(string what) =>
            recorder.Record(new Handled($"{what}@{host.Name}", message, context.MessageId, context.Headers, context.Attempt, context.Queue, time.GetUtcNow()));

        await context.Steps.RunAsync("extract", ct =>
        {
            Record("extract");
            return Task.FromResult(42);
        });
        if (host.Name == "A")
        {
            Record("crash");
            throw new InvalidOperationException("Host A goes down after the extract step.");
        }

        await context.Steps.RunAsync("upload", ct =>
        {
            Record("upload");
            return Task.FromResult(true);
        });
        Record("done"); // both steps are stored now
    }
}

/// <summary>
/// Two bus hosts of one endpoint on SQS (fauxqs) sharing DynamoDB workflow and step stores (dynalite): what one host
/// stored, the other continues. Host A is stopped before host B starts, so each message is handled where the test says.
/// </summary>
public sealed class TwoHostTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly Uri SqsEndpoint =
        new(Environment.GetEnvironmentVariable("BUS_SQS_ENDPOINT") is { Length: > 0 } e ? e : "http://127.0.0.1:4566");

    private readonly Recorder _recorder = new();
    private readonly string _endpoint = $"two-hosts-{Guid.NewGuid():N}"[..24];
    private readonly string _prefix = Dynalite.UniquePrefix("twohosts");

    [Fact]
    public async Task A_workflow_started_on_one_host_is_continued_by_an_event_handled_on_the_other()
    {
        await using (var hostA = await StartHostAsync("A"))
        {
            await hostA.Bus.SendAsync(new StartShipping("o-1"));
            await _recorder.WhenAsync(all => all.Any(h => h.Handler == "started@A")).WaitAsync(Patience);
        }

        await using var hostB = await StartHostAsync("B");
        await hostB.Bus.PublishAsync(new OrderShipped("o-1"));
        await _recorder.WhenAsync(all => all.Any(h => h.Handler.StartsWith("continued@", StringComparison.Ordinal))).WaitAsync(Patience);

        Assert.Equal("continued@B (started on A)", Assert.Single(_recorder.All, h => h.Handler.StartsWith("continued@", StringComparison.Ordinal)).Handler);
        using var store = new DynamoDbWorkflowStore(Dynalite.Client(), Dynalite.Options(_prefix));
        var instance = await store.FindAsync("two-hosts.shipping", "o-1", default);
        Assert.NotNull(instance);
        Assert.Equal(WorkflowStatus.Completed, instance.Status);
        Assert.Equal(2, instance.Version);
    }

    [Fact]
    public async Task A_step_finished_on_one_host_is_skipped_on_the_other()
    {
        await using (var hostA = await StartHostAsync("A"))
        {
            await hostA.Bus.SendAsync(new ExportReport("r-1"));
            await _recorder.WhenAsync(all => all.Any(h => h.Handler == "crash@A")).WaitAsync(Patience);
        }

        // The retry (5 s later) finds host A gone: host B handles it and skips the step A finished.
        await using var hostB = await StartHostAsync("B");
        await _recorder.WhenAsync(all => all.Any(h => h.Handler == "done@B")).WaitAsync(Patience);

        Assert.Equal(["extract@A"], _recorder.All.Where(h => h.Handler.StartsWith("extract@", StringComparison.Ordinal)).Select(h => h.Handler));
        var upload = Assert.Single(_recorder.All, h => h.Handler == "upload@B");
        Assert.True(upload.Attempt >= 2, $"the upload ran on attempt {upload.Attempt}, expected a retry");
        using var steps = new DynamoDbStepStore(Dynalite.Client(), Dynalite.Options(_prefix));
        Assert.Equal(["extract", "upload"], await steps.ListAsync(upload.MessageId, default));
    }

    private Task<TestEndpoint> StartHostAsync(string name) => TestEndpoint.StartAsync(
        _endpoint,
        TimeProvider.System,
        services => services.AddSingleton(_recorder).AddSingleton(new HostName(name)),
        bus =>
        {
            bus.UseAmazonSqs(o =>
            {
                o.Region = "us-east-1";
                o.ServiceUrl = SqsEndpoint;
                o.AccessKeyId = "test";
                o.SecretAccessKey = "test";
                o.WaitTime = TimeSpan.FromSeconds(1);
                o.QueueNamePrefix = "bd-";
            });
            bus.UseDynamoDbWorkflowStore(o => Dynalite.Configure(o, _prefix));
            bus.UseDynamoDbStepStore(o => Dynalite.Configure(o, _prefix));
            bus.AddWorkflow<ShippingWorkflow>("two-hosts.shipping");
            bus.AddHandler<ExportReportHandler>();
            bus.Retry.ImmediateRetries = 0;
            bus.Retry.InitialDelay = TimeSpan.FromSeconds(5);
            bus.Retry.JitterFactor = 0;
        });
}

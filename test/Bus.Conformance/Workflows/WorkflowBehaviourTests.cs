using Bus.Hosting;
using Bus.Testing;
using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Bus.Conformance.Workflows;

/// <summary>
/// Workflow behaviour on the test harness: correlation, duplicates, racing saves, timeouts, compensation, unmatched
/// messages. Subclasses choose the stores (<see cref="ConfigureStores"/>): the in-memory ones, SQLite's, ...
/// </summary>
public abstract class WorkflowBehaviourTests : IAsyncLifetime
{
    private readonly Recorder _recorder = new();
    private readonly BusProbe _probe = new();
    private readonly string _endpoint = $"orders-{Guid.NewGuid():N}"[..20];
    private BusTestHarness _harness = null!;

    /// <inheritdoc />
    public async Task InitializeAsync() =>
        _harness = await BusTestHarness.StartAsync(
            bus =>
            {
                bus.EndpointName = _endpoint;
                bus.AddWorkflow<OrderWorkflow>("orders.order");
                bus.RouteCommand<ChargeCard>("payments");
                bus.Retry.ImmediateRetries = 0;
                bus.Retry.InitialDelay = TimeSpan.FromSeconds(1);
                ConfigureStores(bus);
            },
            services => services.AddSingleton(_recorder));

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        await _harness.DisposeAsync();
        _probe.Dispose();
    }

    /// <summary>Chooses the workflow (and step) stores under test; the in-memory ones when not overridden.</summary>
    protected virtual void ConfigureStores(BusConfiguration bus)
    {
    }

    [Fact]
    public async Task Sends_carry_the_workflow_id_so_a_reply_finds_its_instance_without_mapping()
    {
        await _harness.SendAsync(new PlaceOrder("o-1", 12.5m));

        var instance = Assert.IsType<WorkflowSnapshot>(await _harness.FindWorkflowAsync<OrderWorkflow>("o-1"));
        Assert.Equal(WorkflowStatus.Running, instance.Status);
        var charge = Assert.Single(_harness.Outgoing, m => m.MessageType == typeof(ChargeCard).FullName);
        Assert.Equal(instance.Id, charge.Message.Headers[MessageHeaders.WorkflowId]);
        Assert.Contains(MessageHeaders.WorkflowId, charge.Message.Headers[MessageHeaders.StickyHeaders].Split(','));
        Assert.Equal("payments", charge.Destination.Name);

        // The payment service replies; its reply inherits the sticky workflow id.
        var reply = new DeliveryOptions();
        reply.StickyHeaders[MessageHeaders.WorkflowId] = instance.Id;
        await _harness.PublishAsync(new PaymentCaptured("any"), reply);

        var done = (await _harness.FindWorkflowAsync<OrderWorkflow>("o-1"))!;
        Assert.Equal(WorkflowStatus.Completed, done.Status);
        Assert.Equal(new[] { typeof(PlaceOrder).FullName, typeof(PaymentCaptured).FullName }, done.History.Select(h => h.MessageType));
        Assert.Equal(instance.Id, Assert.Single(_harness.Outgoing, m => m.MessageType == typeof(OrderConfirmed).FullName).Message.Headers[MessageHeaders.WorkflowId]);
        Assert.Equal(12.5m, done.GetState<OrderState>().Total);
        Assert.Equal(2, done.Instance.Version);
    }

    [Fact]
    public async Task Timeout_comes_back_to_the_instance_and_compensation_leaves_it_failed()
    {
        var start = _harness.Time.GetUtcNow();
        await _harness.SendAsync(new PlaceOrder("o-2", 10m));
        await _harness.SendAsync(new AddItem("o-2", "book"));

        var timeout = Assert.Single(_harness.Scheduled);
        Assert.Equal(start + OrderWorkflow.PaymentTimeout, timeout.DueAt);
        Assert.Equal(_endpoint, timeout.Destination.Name);

        await _harness.AdvanceTimeAsync(TimeSpan.FromMinutes(29));
        Assert.Empty(_harness.Published<OrderCancelled>());

        await _harness.AdvanceTimeAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(new StockReleased("o-2", 1), Assert.Single(_harness.Published<StockReleased>()));
        Assert.Equal("payment timed out", Assert.Single(_harness.Published<OrderCancelled>()).Reason);
        var failed = (await _harness.FindWorkflowAsync<OrderWorkflow>("o-2"))!;
        Assert.Equal(WorkflowStatus.Failed, failed.Status);
        Assert.Equal("payment timed out", failed.FailureReason);
        Assert.Contains("failed: payment timed out", failed.History[^1].Note);
        Assert.Contains("timeout PaymentTimedOut", failed.History[0].Note);
    }

    [Fact]
    public async Task Declined_payment_publishes_compensation_and_status_query_shows_failed()
    {
        await _harness.SendAsync(new PlaceOrder("o-3", 10m));
        var id = (await _harness.FindWorkflowAsync<OrderWorkflow>("o-3"))!.Id;
        var reply = new DeliveryOptions();
        reply.StickyHeaders[MessageHeaders.WorkflowId] = id;
        await _harness.PublishAsync(new PaymentDeclined("o-3", "insufficient funds"), reply);

        var query = _harness.Services.GetRequiredService<IWorkflowStatusQuery>();
        var byId = (await query.GetAsync("orders.order", id))!;
        Assert.Equal(WorkflowStatus.Failed, byId.Status);
        Assert.Equal("payment declined: insufficient funds", byId.FailureReason);
        Assert.Single(_harness.Published<StockReleased>());
        Assert.Contains("\"orderId\":\"o-3\"", byId.StateJson);

        // A late timeout for the failed instance matches no running instance: counted, not handled.
        await _harness.AdvanceTimeAsync(TimeSpan.FromHours(1));
        Assert.Equal(1, _probe.Count(_endpoint, "bus.workflow.unmatched"));
        Assert.Single(_harness.Published<OrderCancelled>());
    }

    [Fact]
    public async Task A_second_starting_message_for_the_same_correlation_does_not_start_a_duplicate()
    {
        await _harness.SendAsync(new PlaceOrder("o-4", 10m));
        await _harness.SendAsync(new PlaceOrder("o-4", 10m));

        Assert.Single(_harness.Sent<ChargeCard>());
        var instance = (await _harness.FindWorkflowAsync<OrderWorkflow>("o-4"))!;
        Assert.Equal(2, instance.GetState<OrderState>().Starts);
        Assert.Equal(2, instance.History.Count);
    }

    [Fact]
    public async Task A_redelivered_message_already_in_the_history_is_skipped()
    {
        await _harness.SendAsync(new PlaceOrder("o-5", 10m));
        await _harness.SendAsync(new AddItem("o-5", "pen"), new DeliveryOptions { MessageId = "item-1" });
        await _harness.SendAsync(new AddItem("o-5", "pen"), new DeliveryOptions { MessageId = "item-1" });

        var instance = (await _harness.FindWorkflowAsync<OrderWorkflow>("o-5"))!;
        Assert.Equal(["pen"], instance.GetState<OrderState>().Items);
        Assert.Single(instance.History, h => h.MessageId == "item-1");
    }

    [Fact]
    public async Task Racing_messages_for_one_instance_take_turns_and_never_lose_an_update()
    {
        await _harness.SendAsync(new PlaceOrder("o-6", 10m));
        await _harness.Bus.SendAsync(new AddItem("o-6", "a", WaitAtGate: true));
        await _harness.Bus.SendAsync(new AddItem("o-6", "b", WaitAtGate: true));

        // The first holds the instance until it has saved; the second waits its turn instead of reading the same
        // version (which would let both run their side effects). Across processes, the save's version check decides.
        await _recorder.WhenAsync(all => all.Any(h => h.Handler == "AddItem")).WaitAsync(_harness.Patience);
        Assert.Single(_recorder.All, h => h.Handler == "AddItem");
        _recorder.Open("o-6/items");
        await _harness.WaitForIdleAsync();

        var instance = (await _harness.FindWorkflowAsync<OrderWorkflow>("o-6"))!;
        Assert.Equal(["a", "b"], instance.GetState<OrderState>().Items.Order());
        Assert.Equal(3, instance.Instance.Version);
        Assert.All(_recorder.All.Where(h => h.Handler == "AddItem"), h => Assert.Equal(1, h.Attempt));
        Assert.Empty(await _harness.DeadLettersAsync());
    }

    [Fact]
    public async Task Unmatched_message_is_counted_and_completed_or_dead_lettered_when_the_workflow_opts_in()
    {
        await _harness.SendAsync(new AddItem("nobody", "x"));
        Assert.Equal(1, _probe.Count(_endpoint, "bus.workflow.unmatched"));
        Assert.Empty(await _harness.DeadLettersAsync());

        var reply = new DeliveryOptions();
        reply.StickyHeaders[MessageHeaders.WorkflowId] = "no-such-instance";
        await _harness.PublishAsync(new PaymentCaptured("x"), reply);

        Assert.Equal(2, _probe.Count(_endpoint, "bus.workflow.unmatched"));
        var dead = Assert.Single(await _harness.DeadLettersAsync());
        Assert.Contains("matches no running instance of workflow 'orders.order'", dead.Failure.Reason);
    }

    [Fact]
    public async Task Registration_rejects_a_workflow_without_a_correlation_property()
    {
        var error = await Assert.ThrowsAsync<BusConfigurationException>(() =>
            BusTestHarness.StartAsync(bus => bus.AddWorkflow<UnmappedWorkflow>()));
        Assert.Contains("CorrelateBy", error.Message);
    }

    private sealed class UnmappedWorkflow : Workflow<OrderState>
    {
        protected override void Configure(WorkflowConfigurator<OrderState> workflow) =>
            workflow.StartedBy<PlaceOrder>(m => m.OrderId, (_, _) => Task.CompletedTask);
    }
}

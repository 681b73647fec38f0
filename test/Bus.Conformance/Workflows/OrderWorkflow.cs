using Bus.Conformance;
using Bus.Workflows;

namespace Bus.Conformance.Workflows;

public sealed record PlaceOrder(string OrderId, decimal Total) : ICommand;

public sealed record ChargeCard(string OrderId, decimal Amount) : ICommand;

public sealed record PaymentCaptured(string OrderId) : IEvent;

public sealed record PaymentDeclined(string OrderId, string Why) : IEvent;

public sealed record PaymentTimedOut(string OrderId) : ICommand;

public sealed record AddItem(string OrderId, string Item, bool WaitAtGate = false) : ICommand;

public sealed record OrderConfirmed(string OrderId) : IEvent;

public sealed record OrderCancelled(string OrderId, string Reason) : IEvent;

public sealed record StockReleased(string OrderId, int Items) : IEvent;

public sealed record OrderState
{
    public string? OrderId { get; set; }

    public decimal Total { get; set; }

    public List<string> Items { get; init; } = [];

    public int Starts { get; set; }
}

/// <summary>Charges a card, waits for the reply or a timeout, and compensates when payment fails.</summary>
public sealed class OrderWorkflow(Recorder recorder, TimeProvider time) : Workflow<OrderState>
{
    public static readonly TimeSpan PaymentTimeout = TimeSpan.FromMinutes(30);

    protected override void Configure(WorkflowConfigurator<OrderState> workflow) => workflow
        .CorrelateBy(s => s.OrderId)
        .StartedBy<PlaceOrder>(m => m.OrderId, PlaceAsync)
        .Handles<AddItem>(m => m.OrderId, AddItemAsync)
        .Handles<PaymentCaptured>(CapturedAsync)
        .Handles<PaymentDeclined>(DeclinedAsync)
        .Handles<PaymentTimedOut>(TimedOutAsync)
        .WhenUnmatched<PaymentCaptured>(UnmatchedMessagePolicy.DeadLetter);

    private async Task PlaceAsync(PlaceOrder message, WorkflowContext<OrderState> context)
    {
        context.State.Starts++;
        if (!context.IsNew)
        {
            return; // the order is already running: no second charge
        }

        context.State.Total = message.Total;
        await context.SendAsync(new ChargeCard(message.OrderId, message.Total));
        await context.RequestTimeoutAsync(PaymentTimeout, new PaymentTimedOut(message.OrderId));
    }

    private async Task AddItemAsync(AddItem message, WorkflowContext<OrderState> context)
    {
        recorder.Record(new Handled("AddItem", message, context.Message.MessageId, context.Message.Headers, context.Message.Attempt, context.Message.Queue, time.GetUtcNow()));
        if (message.WaitAtGate)
        {
            await recorder.Gate($"{message.OrderId}/items").WaitAsync(context.CancellationToken);
        }

        context.State.Items.Add(message.Item);
    }

    private async Task CapturedAsync(PaymentCaptured message, WorkflowContext<OrderState> context)
    {
        await context.PublishAsync(new OrderConfirmed(context.State.OrderId!));
        context.Complete();
    }

    private Task DeclinedAsync(PaymentDeclined message, WorkflowContext<OrderState> context) =>
        CompensateAsync(context, $"payment declined: {message.Why}");

    private Task TimedOutAsync(PaymentTimedOut message, WorkflowContext<OrderState> context) =>
        CompensateAsync(context, "payment timed out");

    private async Task CompensateAsync(WorkflowContext<OrderState> context, string reason)
    {
        // Undo what the earlier steps did, then leave the instance visibly failed.
        await context.PublishAsync(new StockReleased(context.State.OrderId!, context.State.Items.Count));
        await context.PublishAsync(new OrderCancelled(context.State.OrderId!, reason));
        context.Fail(reason);
    }
}

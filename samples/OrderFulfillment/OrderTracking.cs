using Bus.Samples;
using Bus.Workflows;

namespace OrderFulfillment;

/// <summary>Where one order stands, as the tracking workflow saw it.</summary>
public sealed class OrderState
{
    public string? OrderId { get; set; }

    /// <summary>The steps whose events arrived, in arrival order (events are unordered on SQS).</summary>
    public List<string> Seen { get; init; } = [];

    /// <summary>The furthest step reached.</summary>
    public string Stage { get; set; } = "placed";

    public string? ReservationId { get; set; }

    public string? PaymentId { get; set; }

    public string? TrackingNumber { get; set; }
}

/// <summary>
/// Follows each order through the events of every step (correlated by order id) and keeps its stage, so
/// <see cref="IWorkflowStatusQuery"/> can answer "where is order X?". Events may arrive in any order, so the instance
/// finishes only once every event of its path has arrived: completed after the confirmation, failed when stock is
/// short, or failed when the payment was declined and the reservation released (the compensation).
/// </summary>
public sealed class OrderTracking(Timeline timeline) : Workflow<OrderState>
{
    private static readonly string[] Stages =
        ["placed", "inventory validated", "reserved", "payment declined", "reservation released", "paid", "shipped", "confirmed"];

    private static readonly string[] FulfilledPath = ["inventory validated", "reserved", "paid", "shipped", "confirmed"];
    private static readonly string[] CompensatedPath = ["inventory validated", "reserved", "payment declined", "reservation released"];

    protected override void Configure(WorkflowConfigurator<OrderState> workflow) => workflow
        .CorrelateBy(state => state.OrderId)
        .StartedBy<OrderPlaced>(e => e.OrderId, (_, context) => ArrivedAsync(context, "placed"))
        .Handles<InventoryValidated>(e => e.OrderId, (_, context) => ArrivedAsync(context, "inventory validated"))
        .Handles<InventoryReserved>(e => e.OrderId, (e, context) =>
        {
            context.State.ReservationId = e.ReservationId;
            return ArrivedAsync(context, "reserved");
        })
        .Handles<PaymentCaptured>(e => e.OrderId, (e, context) =>
        {
            context.State.PaymentId = e.PaymentId;
            return ArrivedAsync(context, "paid");
        })
        .Handles<PaymentDeclined>(e => e.OrderId, (_, context) => ArrivedAsync(context, "payment declined"))
        .Handles<ReservationReleased>(e => e.OrderId, (_, context) => ArrivedAsync(context, "reservation released"))
        .Handles<OrderShipped>(e => e.OrderId, (e, context) =>
        {
            context.State.TrackingNumber = e.TrackingNumber;
            return ArrivedAsync(context, "shipped");
        })
        .Handles<OrderConfirmed>(e => e.OrderId, (_, context) => ArrivedAsync(context, "confirmed"))
        .Handles<InventoryUnavailable>(e => e.OrderId, OnInventoryUnavailable)

        // An order's events can overtake the save that starts its instance: retry them rather than drop them.
        .WhenUnmatched(UnmatchedMessagePolicy.Retry);

    private Task ArrivedAsync(WorkflowContext<OrderState> context, string step)
    {
        var state = context.State;
        state.Seen.Add(step);
        state.Stage = Stages[state.Seen.Max(s => Array.IndexOf(Stages, s))];
        if (FulfilledPath.All(state.Seen.Contains))
        {
            context.Complete();
            timeline.Add("tracking", $"{state.OrderId}: fulfilled");
        }
        else if (CompensatedPath.All(state.Seen.Contains))
        {
            state.Stage = "cancelled";
            context.Fail($"payment declined; reservation {state.ReservationId} released");
            timeline.Add("tracking", $"{state.OrderId}: cancelled, payment compensated");
        }

        return Task.CompletedTask;
    }

    private Task OnInventoryUnavailable(InventoryUnavailable message, WorkflowContext<OrderState> context)
    {
        context.State.Seen.Add("inventory unavailable");
        context.State.Stage = "rejected";
        context.Fail($"only {message.InStock} {message.Sku} in stock, {message.Requested} ordered");
        timeline.Add("tracking", $"{message.OrderId}: rejected (out of stock)");
        return Task.CompletedTask;
    }
}

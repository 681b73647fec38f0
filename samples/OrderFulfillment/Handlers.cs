using Bus;
using Bus.Samples;

namespace OrderFulfillment;

/// <summary>Accepts an order and starts fulfillment.</summary>
public sealed class PlaceOrderHandler(Timeline timeline) : IHandleMessages<PlaceOrder>
{
    public async Task HandleAsync(PlaceOrder message, IMessageContext context)
    {
        timeline.Add("orders", $"{message.OrderId}: placed, {message.Quantity} × {message.Sku} for {message.Amount:0.00}");
        await context.Bus.PublishAsync(new OrderPlaced(message.OrderId, message.Sku, message.Quantity, message.Amount, message.CardNumber), Once.For(message.OrderId, nameof(OrderPlaced)));
    }
}

/// <summary>Step 1: checks the stock.</summary>
public sealed class ValidateInventory(Warehouse warehouse, Timeline timeline) : IHandleMessages<OrderPlaced>
{
    public async Task HandleAsync(OrderPlaced message, IMessageContext context)
    {
        var inStock = warehouse.InStock(message.Sku);
        if (inStock < message.Quantity)
        {
            timeline.Add("inventory", $"{message.OrderId}: only {inStock} {message.Sku} in stock, {message.Quantity} wanted");
            await context.Bus.PublishAsync(new InventoryUnavailable(message.OrderId, message.Sku, message.Quantity, inStock), Once.For(message.OrderId, nameof(InventoryUnavailable)));
            return;
        }

        timeline.Add("inventory", $"{message.OrderId}: {message.Quantity} × {message.Sku} available");
        await context.Bus.PublishAsync(new InventoryValidated(message.OrderId, message.Sku, message.Quantity, message.Amount, message.CardNumber), Once.For(message.OrderId, nameof(InventoryValidated)));
    }
}

/// <summary>Step 2: reserves the stock; and the compensation of a declined payment: releases it.</summary>
public sealed class Reservations(Warehouse warehouse, Timeline timeline) : IHandleMessages<InventoryValidated>, IHandleMessages<PaymentDeclined>
{
    public async Task HandleAsync(InventoryValidated message, IMessageContext context)
    {
        var reservationId = warehouse.Reserve(message.OrderId, message.Sku, message.Quantity);
        timeline.Add("inventory", $"{message.OrderId}: reserved ({reservationId})");
        await context.Bus.PublishAsync(new InventoryReserved(message.OrderId, reservationId, message.Amount, message.CardNumber), Once.For(message.OrderId, nameof(InventoryReserved)));
    }

    public async Task HandleAsync(PaymentDeclined message, IMessageContext context)
    {
        warehouse.Release(message.ReservationId);
        timeline.Add("inventory", $"{message.OrderId}: compensation, released {message.ReservationId}");
        await context.Bus.PublishAsync(new ReservationReleased(message.OrderId, message.ReservationId, message.Reason), Once.For(message.OrderId, nameof(ReservationReleased)));
    }
}

/// <summary>Step 3: charges the card. The sample's payment provider declines cards ending in 0002.</summary>
public sealed class ChargePayment(Timeline timeline) : IHandleMessages<InventoryReserved>
{
    public async Task HandleAsync(InventoryReserved message, IMessageContext context)
    {
        if (message.CardNumber.EndsWith("0002", StringComparison.Ordinal))
        {
            timeline.Add("payment", $"{message.OrderId}: card …{message.CardNumber[^4..]} declined (insufficient funds)");
            await context.Bus.PublishAsync(new PaymentDeclined(message.OrderId, message.ReservationId, "card declined: insufficient funds"), Once.For(message.OrderId, nameof(PaymentDeclined)));
            return;
        }

        var paymentId = $"P-{message.OrderId}";
        timeline.Add("payment", $"{message.OrderId}: charged {message.Amount:0.00} to card …{message.CardNumber[^4..]} ({paymentId})");
        await context.Bus.PublishAsync(new PaymentCaptured(message.OrderId, paymentId, message.Amount), Once.For(message.OrderId, nameof(PaymentCaptured)));
    }
}

/// <summary>Step 4: ships the parcel.</summary>
public sealed class ShipOrder(Timeline timeline) : IHandleMessages<PaymentCaptured>
{
    public async Task HandleAsync(PaymentCaptured message, IMessageContext context)
    {
        var trackingNumber = $"TRK-{message.OrderId}";
        timeline.Add("shipping", $"{message.OrderId}: shipped, tracking {trackingNumber}");
        await context.Bus.PublishAsync(new OrderShipped(message.OrderId, trackingNumber), Once.For(message.OrderId, nameof(OrderShipped)));
    }
}

/// <summary>Step 5: tells the customer. The email is a memoised step: when the message is retried (here, when the
/// tracking workflow, which handles the same message, lost a race with another update of the order), the customer is
/// not emailed twice.</summary>
public sealed class SendConfirmation(Timeline timeline) : IHandleMessages<OrderShipped>
{
    public async Task HandleAsync(OrderShipped message, IMessageContext context)
    {
        await context.Steps.RunAsync("confirmation-email", _ =>
        {
            timeline.Add("email", $"{message.OrderId}: confirmation sent (tracking {message.TrackingNumber})");
            return Task.CompletedTask;
        });
        await context.Bus.PublishAsync(new OrderConfirmed(message.OrderId, message.TrackingNumber), Once.For(message.OrderId, nameof(OrderConfirmed)));
    }
}

/// <summary>
/// A deterministic message id per order and event: when a message is retried (another handler of it failed, or it
/// was redelivered), its handlers publish again, and the same id lets the tracking workflow recognise the repeat.
/// </summary>
internal static class Once
{
    public static DeliveryOptions For(string orderId, string eventName) => new() { MessageId = $"{orderId}/{eventName}" };
}

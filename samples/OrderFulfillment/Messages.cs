using Bus;

namespace OrderFulfillment;

/// <summary>A customer places an order (the command that starts everything).</summary>
[MessageName("shop.place-order")]
public sealed record PlaceOrder(string OrderId, string Sku, int Quantity, decimal Amount, string CardNumber) : ICommand;

/// <summary>The order was accepted and fulfillment begins.</summary>
[MessageName("shop.order-placed")]
public sealed record OrderPlaced(string OrderId, string Sku, int Quantity, decimal Amount, string CardNumber) : IEvent;

/// <summary>Step 1: enough stock exists.</summary>
[MessageName("shop.inventory-validated")]
public sealed record InventoryValidated(string OrderId, string Sku, int Quantity, decimal Amount, string CardNumber) : IEvent;

/// <summary>Step 1 failed: not enough stock.</summary>
[MessageName("shop.inventory-unavailable")]
public sealed record InventoryUnavailable(string OrderId, string Sku, int Requested, int InStock) : IEvent;

/// <summary>Step 2: the stock is set aside for the order.</summary>
[MessageName("shop.inventory-reserved")]
public sealed record InventoryReserved(string OrderId, string ReservationId, decimal Amount, string CardNumber) : IEvent;

/// <summary>Step 3: the card was charged.</summary>
[MessageName("shop.payment-captured")]
public sealed record PaymentCaptured(string OrderId, string PaymentId, decimal Amount) : IEvent;

/// <summary>Step 3 failed: the card was declined.</summary>
[MessageName("shop.payment-declined")]
public sealed record PaymentDeclined(string OrderId, string ReservationId, string Reason) : IEvent;

/// <summary>Compensation of step 2 after a declined payment: the reserved stock is back on the shelf.</summary>
[MessageName("shop.reservation-released")]
public sealed record ReservationReleased(string OrderId, string ReservationId, string Reason) : IEvent;

/// <summary>Step 4: the parcel left the warehouse.</summary>
[MessageName("shop.order-shipped")]
public sealed record OrderShipped(string OrderId, string TrackingNumber) : IEvent;

/// <summary>Step 5: the customer was told.</summary>
[MessageName("shop.order-confirmed")]
public sealed record OrderConfirmed(string OrderId, string TrackingNumber) : IEvent;

// OrderFulfillment: validate inventory -> reserve -> payment -> shipment -> confirmation, each step a handler that
// reacts to the previous step's event and publishes its own. A declined payment publishes PaymentDeclined, and the
// reservation handler compensates (releases the stock, publishes ReservationReleased). A workflow follows every
// order by its id, and the program ends with a status query per order. SQLite by default:
//   dotnet run --project samples/OrderFulfillment [-- --db data/order-fulfillment.db]
//   dotnet run --project samples/OrderFulfillment -- --transport sqs --sqs-endpoint http://127.0.0.1:4566
using Bus;
using Bus.Hosting;
using Bus.Samples;
using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrderFulfillment;

SampleOptions options;
try
{
    options = SampleOptions.Parse(args, defaultDatabase: "data/order-fulfillment.db");
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync(e.Message);
    return 2;
}

var timeline = new Timeline();
var builder = Host.CreateApplicationBuilder();
builder.Logging.ClearProviders().AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning)

    // Events of one order race for its workflow instance: a save conflict or an event that overtakes the instance's
    // start is retried (a warning with a stack trace). The timeline tells the story; show errors only.
    .AddFilter("Bus", LogLevel.Error);
builder.Services.AddSingleton(timeline).AddSingleton<Warehouse>();
builder.Services.AddBus(bus =>
{
    bus.EndpointName = "order-fulfillment";
    options.Apply(bus);
    bus.AddHandlersFromAssembly(typeof(PlaceOrderHandler).Assembly);
    bus.AddWorkflow<OrderTracking>("shop.order-tracking");
    bus.Retry.InitialDelay = TimeSpan.FromMilliseconds(300);
});

using var host = builder.Build();
timeline.Add("sample", options.Describe());
await host.StartAsync();

var run = Guid.NewGuid().ToString("N")[..4].ToUpperInvariant();   // fresh order ids each run
PlaceOrder[] orders =
[
    new($"{run}-1", "widget", 2, 39.90m, "4242-4242-4242-4242"),   // fulfilled
    new($"{run}-2", "widget", 1, 19.95m, "4000-0000-0000-0002"),   // payment declined: reservation released
    new($"{run}-3", "gadget", 5, 99.00m, "4242-4242-4242-4242"),   // only 1 gadget in stock: rejected
];
var bus = host.Services.GetRequiredService<IBus>();
foreach (var order in orders)
{
    await bus.SendAsync(order);
}

// The status query: where is each order? Asked until every order has finished (fulfilled, cancelled or rejected).
var query = host.Services.GetRequiredService<IWorkflowStatusQuery>();
var finished = new Dictionary<string, WorkflowSnapshot>(StringComparer.Ordinal);
var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
while (finished.Count < orders.Length)
{
    if (DateTime.UtcNow > deadline)
    {
        await Console.Error.WriteLineAsync($"Only {finished.Count} of {orders.Length} orders finished within 60 seconds.");
        await host.StopAsync();
        return 1;
    }

    foreach (var order in orders.Where(o => !finished.ContainsKey(o.OrderId)))
    {
        if (await query.FindAsync<OrderTracking>(order.OrderId) is { Status: not WorkflowStatus.Running } snapshot)
        {
            finished[order.OrderId] = snapshot;
        }
    }

    await Task.Delay(TimeSpan.FromMilliseconds(100));
}

Console.WriteLine();
Console.WriteLine("Order status (IWorkflowStatusQuery.FindAsync<OrderTracking>(orderId)):");
foreach (var order in orders)
{
    var snapshot = finished[order.OrderId];
    var state = snapshot.GetState<OrderState>();
    Console.WriteLine($"  {order.OrderId}  {snapshot.Status,-9}  stage: {state.Stage}"
        + (snapshot.FailureReason is { } reason ? $"  ({reason})" : $"  (tracking {state.TrackingNumber})"));
    Console.WriteLine($"          history: {string.Join(" -> ", snapshot.History.Select(h => h.MessageType.Replace("shop.", string.Empty, StringComparison.Ordinal)))}");
}

await host.StopAsync();
return 0;

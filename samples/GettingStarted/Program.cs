// Getting started: two endpoints ("orders" and "shipping") in one process, talking over one in-memory broker.
// orders handles PlaceOrder (a command) and publishes OrderPlaced (an event); shipping subscribes to it.
// One order fails on its first attempt and is retried; one is rejected with FailAsync, dead-lettered, then redriven.
using Bus;
using Bus.Hosting;
using Bus.Transports;
using Bus.Transports.InMemory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

var broker = new InMemoryBroker();
var timeline = new Timeline();

using var orders = BuildHost("orders", bus => bus.AddHandler<PlaceOrderHandler>());
using var shipping = BuildHost("shipping", bus => bus.AddHandler<ShipOrderWhenPlaced>());
await orders.StartAsync();
await shipping.StartAsync();

var bus = orders.Services.GetRequiredService<IBus>();
await bus.SendAsync(new PlaceOrder("A-1", 2));
await bus.SendAsync(new PlaceOrder("A-2", 1, FailFirstAttempt: true));
await bus.SendAsync(new PlaceOrder("A-3", 0));          // quantity 0: rejected, dead-lettered
await timeline.WaitForAsync("shipped A-1", "shipped A-2", "dead-lettered A-3");

var deadLetters = orders.Services.GetRequiredService<IDeadLetterQueue>();
var dead = Assert(await deadLetters.PeekAsync("orders", 10, default));
timeline.Add($"dead letter {dead.Message.MessageId}: {dead.Failure.Reason} (attempts {dead.Failure.Attempts})");

// An operator fixes the cause (here: allows quantity 0 as a "sample order") and redrives the dead letter.
PlaceOrderHandler.AllowSamples = true;
await deadLetters.RedriveAsync("orders", [dead.Message.MessageId!], default);
await timeline.WaitForAsync("shipped A-3");

await shipping.StopAsync();
await orders.StopAsync();
Console.WriteLine();
Console.WriteLine("Done: every order was shipped exactly once; nothing was lost.");
return 0;

IHost BuildHost(string endpoint, Action<BusConfiguration> configure)
{
    var builder = Host.CreateApplicationBuilder();
    builder.Logging.ClearProviders().AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
    builder.Services.AddSingleton(timeline);
    builder.Services.AddBus(bus =>
    {
        bus.EndpointName = endpoint;
        bus.UseInMemoryTransport(broker);
        bus.RouteCommand<PlaceOrder>("orders");
        bus.Retry.InitialDelay = TimeSpan.FromMilliseconds(200);
        configure(bus);
    });
    return builder.Build();
}

static DeadLetter Assert(IReadOnlyList<DeadLetter> letters) =>
    letters.Count == 1 ? letters[0] : throw new InvalidOperationException($"Expected one dead letter, found {letters.Count}.");

/// <summary>Place an order (a command: exactly one endpoint, "orders", owns it).</summary>
[MessageName("sample.place-order")]
public sealed record PlaceOrder(string OrderId, int Quantity, bool FailFirstAttempt = false) : ICommand;

/// <summary>An order was placed (an event: every subscriber gets it).</summary>
[MessageName("sample.order-placed")]
public sealed record OrderPlaced(string OrderId, int Quantity) : IEvent;

public sealed class PlaceOrderHandler(Timeline timeline) : IHandleMessages<PlaceOrder>
{
    public static bool AllowSamples { get; set; }

    public async Task HandleAsync(PlaceOrder message, IMessageContext context)
    {
        timeline.Add($"orders: placing {message.OrderId} (attempt {context.Attempt})");
        if (message.FailFirstAttempt && context.Attempt == 1)
        {
            throw new TimeoutException("the inventory service did not answer");
        }

        if (message.Quantity <= 0 && !AllowSamples)
        {
            timeline.Add($"dead-lettered {message.OrderId}");
            await context.FailAsync($"Quantity must be positive (was {message.Quantity}).");
        }

        await context.Bus.PublishAsync(new OrderPlaced(message.OrderId, message.Quantity));
    }
}

public sealed class ShipOrderWhenPlaced(Timeline timeline) : IHandleMessages<OrderPlaced>
{
    public Task HandleAsync(OrderPlaced message, IMessageContext context)
    {
        timeline.Add($"shipped {message.OrderId} (correlation …{context.CorrelationId[^8..]})");
        return Task.CompletedTask;
    }
}

/// <summary>Prints what happens, and lets the program wait for lines to appear.</summary>
public sealed class Timeline
{
    private readonly List<string> _lines = [];
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Add(string line)
    {
        lock (_lines)
        {
            _lines.Add(line);
            Console.WriteLine($"{_clock.Elapsed.TotalSeconds,6:0.000}s  {line}");
            _changed.TrySetResult();
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public async Task WaitForAsync(params string[] prefixes)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            Task changed;
            lock (_lines)
            {
                if (prefixes.All(p => _lines.Any(l => l.StartsWith(p, StringComparison.Ordinal))))
                {
                    return;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(timeout.Token);
        }
    }
}

using System.Collections.Concurrent;
using Bus.Hosting;
using Bus.Pipeline;
using Bus.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Tests.Pipeline;

public sealed record Deposit(string Account, int Amount) : ICommand;

/// <summary>The application's books; one per test.</summary>
public sealed class Ledger
{
    public ConcurrentQueue<(string Account, int Amount)> Entries { get; } = new();

    /// <summary>Message ids the inbox has recorded (stands for a table in the application's database).</summary>
    public ConcurrentDictionary<string, bool> Inbox { get; } = new();

    public ConcurrentQueue<string> Order { get; } = new();
}

/// <summary>Per message: the application's unit of work (stands for a DbContext), shared by the inbox step and the
/// handler through the message's scope.</summary>
public sealed class BooksSession : IDisposable
{
    public List<string> Pending { get; } = [];

    public bool Disposed { get; private set; }

    public void Dispose() => Disposed = true;
}

public sealed class DepositHandler(Ledger ledger, BooksSession session) : IHandleMessages<Deposit>
{
    public Task HandleAsync(Deposit message, IMessageContext context)
    {
        ledger.Order.Enqueue("handler");
        Assert.Contains($"inbox:{context.MessageId}", session.Pending); // the same session the inbox step wrote to
        ledger.Entries.Enqueue((message.Account, message.Amount));
        return Task.CompletedTask;
    }
}

/// <summary>An inbox: a message id seen before completes without reaching the handlers.</summary>
public sealed class InboxStep(Ledger ledger, BooksSession session) : IIncomingStep
{
    public async ValueTask<Outcome> InvokeAsync(IncomingContext context, IncomingStepDelegate next)
    {
        ledger.Order.Enqueue("inbox");
        Assert.IsType<Deposit>(context.Message); // user steps run after deserialization
        if (ledger.Inbox.ContainsKey(context.MessageId))
        {
            return Outcome.Complete;
        }

        session.Pending.Add($"inbox:{context.MessageId}");
        var outcome = await next(context);
        if (outcome.Kind == OutcomeKind.Complete)
        {
            ledger.Inbox[context.MessageId] = true; // saved with the handler's work, in a real inbox
        }

        return outcome;
    }
}

/// <summary>A second user step, to show the order.</summary>
public sealed class AuditStep(Ledger ledger) : IIncomingStep
{
    public ValueTask<Outcome> InvokeAsync(IncomingContext context, IncomingStepDelegate next)
    {
        ledger.Order.Enqueue("audit");
        return next(context);
    }
}

public sealed class IncomingStepTests
{
    [Fact]
    public async Task An_inbox_step_drops_a_repeated_message_id()
    {
        var ledger = new Ledger();
        await using var harness = await StartAsync(ledger, bus => bus.UseIncoming<InboxStep>());

        await harness.SendAsync(new Deposit("a", 10), new DeliveryOptions { MessageId = "deposit-1" });
        await harness.SendAsync(new Deposit("a", 10), new DeliveryOptions { MessageId = "deposit-1" });
        await harness.SendAsync(new Deposit("a", 5), new DeliveryOptions { MessageId = "deposit-2" });

        Assert.Equal([("a", 10), ("a", 5)], ledger.Entries);
        Assert.Empty(await harness.DeadLettersAsync());
    }

    [Fact]
    public async Task Without_the_inbox_step_a_repeated_message_id_is_handled_twice()
    {
        // What the inbox test guards against: the bus delivers at least once, so a repeated id reaches the handler.
        var ledger = new Ledger();
        await using var harness = await StartAsync(ledger, _ => { }, sessionCheck: false);

        await harness.SendAsync(new Deposit("a", 10), new DeliveryOptions { MessageId = "deposit-1" });
        await harness.SendAsync(new Deposit("a", 10), new DeliveryOptions { MessageId = "deposit-1" });

        Assert.Equal([("a", 10), ("a", 10)], ledger.Entries);
    }

    [Fact]
    public async Task User_steps_run_in_the_order_added_before_the_handlers()
    {
        var ledger = new Ledger();
        await using var harness = await StartAsync(ledger, bus => bus.UseIncoming<AuditStep>().UseIncoming<InboxStep>());

        await harness.SendAsync(new Deposit("a", 1));

        Assert.Equal(["audit", "inbox", "handler"], ledger.Order);
    }

    [Fact]
    public async Task The_receive_path_runs_its_steps_in_order_with_user_steps_inside_the_scope_before_the_handlers()
    {
        var services = new ServiceCollection();
        services.AddBus(bus =>
        {
            bus.EndpointName = "ordered";
            bus.UseInMemoryTransport();
            bus.AddHandler<PlainDepositHandler>();
            bus.UseIncoming<AuditStep>();
        });
        await using var provider = services.BuildServiceProvider();

        var steps = provider.GetRequiredService<IncomingPipeline>().Steps.Select(s => s.GetType().Name.Split('`')[0]);

        Assert.Equal(
            ["DelayHopStep", "ResolveTypeStep", "TimeWindowStep", "ReceiveCountCapStep", "DeserializeStep", "AttemptStep", "ScopeStep", "UserStep",
             "InvokeHandlersStep", "FlushSendsStep"],
            steps);
    }

    [Fact]
    public void Adding_a_step_twice_is_a_configuration_error()
    {
        var services = new ServiceCollection();
        var error = Assert.Throws<BusConfigurationException>(() => services.AddBus(bus =>
        {
            bus.EndpointName = "twice";
            bus.UseInMemoryTransport();
            bus.UseIncoming<AuditStep>().UseIncoming<AuditStep>();
        }));
        Assert.Contains("added twice", error.Message);
    }

    private static Task<BusTestHarness> StartAsync(Ledger ledger, Action<BusConfiguration> steps, bool sessionCheck = true) =>
        BusTestHarness.StartAsync(
            bus =>
            {
                if (sessionCheck)
                {
                    bus.AddHandler<DepositHandler>();
                }
                else
                {
                    bus.AddHandler<PlainDepositHandler>();
                }

                steps(bus);
            },
            services => services.AddSingleton(ledger).AddScoped<BooksSession>());

    public sealed class PlainDepositHandler(Ledger ledger) : IHandleMessages<Deposit>
    {
        public Task HandleAsync(Deposit message, IMessageContext context)
        {
            ledger.Entries.Enqueue((message.Account, message.Amount));
            return Task.CompletedTask;
        }
    }
}

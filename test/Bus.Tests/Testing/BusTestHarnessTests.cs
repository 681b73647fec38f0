using Bus.Conformance;
using Bus.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Tests.Testing;

public sealed record Greet(string Name, int Reminders = 0) : ICommand;

public sealed record Greeted(string Name, DateTimeOffset At) : IEvent;

public sealed record Remind(string Name, int Left) : ICommand;

public sealed record Ship(string Name) : ICommand;

public sealed class GreetHandler(TimeProvider time) : IHandleMessages<Greet>, IHandleMessages<Remind>
{
    public async Task HandleAsync(Greet message, IMessageContext context)
    {
        if (message.Name == "fail")
        {
            throw new InvalidOperationException("cannot greet 'fail'");
        }

        await context.Bus.PublishAsync(new Greeted(message.Name, time.GetUtcNow()));
        await context.Bus.SendAsync(new Ship(message.Name));
        if (message.Reminders > 0)
        {
            await context.Bus.SendAsync(new Remind(message.Name, message.Reminders), new DeliveryOptions { Delay = TimeSpan.FromSeconds(10) });
        }
    }

    public async Task HandleAsync(Remind message, IMessageContext context)
    {
        await context.Bus.PublishAsync(new Greeted($"{message.Name} again", time.GetUtcNow()));
        if (message.Left > 1)
        {
            await context.Bus.SendAsync(new Remind(message.Name, message.Left - 1), new DeliveryOptions { Delay = TimeSpan.FromSeconds(10) });
        }
    }
}

public sealed class BlockingHandler(Recorder recorder) : IHandleMessages<Ship>
{
    public Task HandleAsync(Ship message, IMessageContext context) => recorder.Gate("never").WaitAsync(context.CancellationToken);
}

public sealed class BusTestHarnessTests
{
    private static Task<BusTestHarness> StartAsync() => BusTestHarness.StartAsync(bus =>
    {
        bus.AddHandler<GreetHandler>();
        bus.RouteCommand<Ship>("shipping");
        bus.Retry.MaxAttempts = 3;
        bus.Retry.ImmediateRetries = 0;
        bus.Retry.InitialDelay = TimeSpan.FromSeconds(5);
    });

    [Fact]
    public async Task Send_waits_until_handled_and_records_what_the_handler_sent_and_published()
    {
        await using var harness = await StartAsync();

        await harness.SendAsync(new Greet("ada"));

        Assert.Equal("ada", Assert.Single(harness.Published<Greeted>()).Name);
        Assert.Equal(new Ship("ada"), Assert.Single(harness.Sent<Ship>()));
        Assert.Empty(harness.Sent<Greet>()); // the test's own send is in Outgoing, not among what handlers sent
        Assert.Contains(harness.Outgoing, m => m.MessageType == typeof(Greet).FullName && !m.SentByHandler);
        Assert.Equal("shipping", Assert.Single(harness.Outgoing, m => m.MessageType == typeof(Ship).FullName).Destination.Name);
    }

    [Fact]
    public async Task AdvanceTime_delivers_each_due_message_at_its_time_and_nothing_early()
    {
        await using var harness = await StartAsync();
        var start = harness.Time.GetUtcNow();

        await harness.SendAsync(new Greet("bob", Reminders: 3));
        Assert.Single(harness.Published<Greeted>());
        Assert.Equal(start + TimeSpan.FromSeconds(10), Assert.Single(harness.Scheduled).DueAt);

        await harness.AdvanceTimeAsync(TimeSpan.FromSeconds(9));
        Assert.Single(harness.Published<Greeted>());

        await harness.AdvanceTimeAsync(TimeSpan.FromMinutes(1));
        var reminders = harness.Published<Greeted>().Skip(1).ToList();
        Assert.Equal([10, 20, 30], reminders.Select(r => (int)(r.At - start).TotalSeconds));
        Assert.Equal(start + TimeSpan.FromSeconds(69), harness.Time.GetUtcNow());
    }

    [Fact]
    public async Task A_failing_handler_is_retried_as_time_passes_then_dead_lettered()
    {
        await using var harness = await StartAsync();

        await harness.SendAsync(new Greet("fail"));
        Assert.Empty(await harness.DeadLettersAsync());

        await harness.AdvanceTimeAsync(TimeSpan.FromMinutes(5));
        var dead = Assert.Single(await harness.DeadLettersAsync());
        Assert.Equal(3, dead.Failure.Attempts);
        Assert.Contains("cannot greet 'fail'", dead.Failure.Reason);
    }

    [Fact]
    public async Task Waiting_for_a_handler_that_never_finishes_fails_after_the_patience()
    {
        var recorder = new Recorder();
        await using var harness = await BusTestHarness.StartAsync(bus => bus.AddHandler<BlockingHandler>(), services => services.AddSingleton(recorder));
        harness.Patience = TimeSpan.FromMilliseconds(300);

        var error = await Assert.ThrowsAsync<TimeoutException>(() => harness.SendAsync(new Ship("x")));
        Assert.Contains("1 message(s) due or running", error.Message);
        recorder.Open("never");
        await harness.WaitForIdleAsync();
    }
}

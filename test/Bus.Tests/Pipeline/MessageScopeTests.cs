using Bus.Hosting;
using Bus.Testing;
using Bus.Transports.InMemory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bus.Tests.Pipeline;

public sealed record Stamp(string Name) : ICommand;

/// <summary>A scoped dependency that records what happened to it.</summary>
public sealed class StampSession : IAsyncDisposable
{
    public bool Disposed { get; private set; }

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }
}

public sealed class StampLog
{
    public List<(string Name, StampSession Session, bool DisposedWhileHandling)> Seen { get; } = [];
}

/// <summary>A handler that takes a singleton and a scoped service (the kind the removed scope-free factory made from
/// the root provider when it guessed wrong).</summary>
public sealed class StampHandler(StampLog log, StampSession session, IServiceProvider services) : IHandleMessages<Stamp>
{
    public Task HandleAsync(Stamp message, IMessageContext context)
    {
        Assert.Same(session, services.GetRequiredService<StampSession>()); // resolved from the message's scope
        log.Seen.Add((message.Name, session, session.Disposed));
        return Task.CompletedTask;
    }
}

public sealed class MessageScopeTests
{
    [Fact]
    public async Task A_scoped_dependency_comes_from_the_messages_scope_and_is_disposed_after_it()
    {
        var log = new StampLog();
        await using var harness = await BusTestHarness.StartAsync(
            bus => bus.AddHandler<StampHandler>(),
            services => services.AddSingleton(log).AddScoped<StampSession>());

        await harness.SendAsync(new Stamp("a"));
        await harness.SendAsync(new Stamp("b"));

        Assert.Equal(["a", "b"], log.Seen.Select(s => s.Name));
        Assert.NotSame(log.Seen[0].Session, log.Seen[1].Session); // one scope per message
        Assert.All(log.Seen, s => Assert.False(s.DisposedWhileHandling));
        Assert.All(log.Seen, s => Assert.True(s.Session.Disposed));
    }

    [Fact]
    public async Task A_send_only_endpoint_sends_through_IBus_without_receiving()
    {
        var broker = new InMemoryBroker();
        var services = new ServiceCollection();
        services.AddBus(bus =>
        {
            bus.EndpointName = "sender";
            bus.UseInMemoryTransport(broker);
            bus.RouteCommand<Stamp>("stamper");
        });
        await using var provider = services.BuildServiceProvider(validateScopes: true);

        // IBus is a service of its own: it sends before (and without) the host receiving anything.
        await provider.GetRequiredService<IBus>().SendAsync(new Stamp("x"));
        foreach (var hosted in provider.GetServices<IHostedService>())
        {
            await hosted.StartAsync(CancellationToken.None);
            await hosted.StopAsync(CancellationToken.None);
        }

        Assert.Equal(1, broker.CountMessages("stamper"));
    }
}

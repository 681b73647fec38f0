using Bus.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Tests.Hosting;

public sealed record Tally(string Name) : ICommand;

/// <summary>Per message: one scoped unit of work shared by the message's handlers.</summary>
public sealed class UnitOfWork : IDisposable
{
    public List<string> Seen { get; } = [];

    public bool Disposed { get; private set; }

    public void Dispose() => Disposed = true;
}

public sealed class HandlerLifetimes
{
    public List<(object Handler, UnitOfWork Work)> Handled { get; } = [];

    public List<object> Disposed { get; } = [];
}

public sealed class FirstTallyHandler(UnitOfWork work, HandlerLifetimes lifetimes) : IHandleMessages<Tally>, IDisposable
{
    public Task HandleAsync(Tally message, IMessageContext context)
    {
        work.Seen.Add($"first:{message.Name}");
        lifetimes.Handled.Add((this, work));
        return Task.CompletedTask;
    }

    public void Dispose() => lifetimes.Disposed.Add(this);
}

public sealed class SecondTallyHandler(UnitOfWork work, HandlerLifetimes lifetimes) : IHandleMessages<Tally>
{
    public Task HandleAsync(Tally message, IMessageContext context)
    {
        work.Seen.Add($"second:{message.Name}");
        lifetimes.Handled.Add((this, work));
        return Task.CompletedTask;
    }
}

public sealed class HandlerLifetimeTests
{
    [Fact]
    public async Task Each_message_gets_new_handler_instances_sharing_its_scoped_services_and_disposed_with_its_scope()
    {
        var lifetimes = new HandlerLifetimes();
        await using var harness = await BusTestHarness.StartAsync(
            bus =>
            {
                bus.AddHandler<FirstTallyHandler>();
                bus.AddHandler<SecondTallyHandler>();
            },
            services => services.AddSingleton(lifetimes).AddScoped<UnitOfWork>());

        await harness.SendAsync(new Tally("a"));
        await harness.SendAsync(new Tally("b"));

        Assert.Equal(4, lifetimes.Handled.Count);
        Assert.Equal(4, lifetimes.Handled.Select(h => h.Handler).Distinct().Count()); // never reused across messages
        var works = lifetimes.Handled.Select(h => h.Work).Distinct().ToList();
        Assert.Equal(2, works.Count); // one unit of work per message, shared by both handlers
        Assert.Equal(["first:a", "second:a"], works[0].Seen.Order());
        Assert.Equal(["first:b", "second:b"], works[1].Seen.Order());
        Assert.All(works, w => Assert.True(w.Disposed));
        Assert.Equal(lifetimes.Handled.Where(h => h.Handler is FirstTallyHandler).Select(h => h.Handler), lifetimes.Disposed);
    }
}

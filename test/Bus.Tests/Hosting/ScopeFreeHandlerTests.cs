using Bus.Pipeline;
using Bus.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bus.Tests.Hosting;

public sealed class ScopeFreeHandlerTests
{
    public sealed class Clock;

    public sealed class Session;

    public sealed class SingletonsOnlyHandler(Clock clock, ILogger<SingletonsOnlyHandler> log) : IHandleMessages<Tally>
    {
        public Clock Clock => clock;

        public ILogger Log => log;

        public Task HandleAsync(Tally message, IMessageContext context) => Task.CompletedTask;
    }

    public sealed class ScopedDependencyHandler(Session session) : IHandleMessages<Tally>
    {
        public Session Session => session;

        public Task HandleAsync(Tally message, IMessageContext context) => Task.CompletedTask;
    }

    public sealed class ProviderHandler(IServiceProvider services) : IHandleMessages<Tally>
    {
        public IServiceProvider Services => services;

        public Task HandleAsync(Tally message, IMessageContext context) => Task.CompletedTask;
    }

    public sealed class ManyHandler(IEnumerable<Clock> clocks) : IHandleMessages<Tally>
    {
        public IEnumerable<Clock> Clocks => clocks;

        public Task HandleAsync(Tally message, IMessageContext context) => Task.CompletedTask;
    }

    public sealed class DisposableHandler(Clock clock) : IHandleMessages<Tally>, IDisposable
    {
        public Clock Clock => clock;

        public Task HandleAsync(Tally message, IMessageContext context) => Task.CompletedTask;

        public void Dispose()
        {
        }
    }

    public sealed class TwoConstructorsHandler : IHandleMessages<Tally>
    {
        public TwoConstructorsHandler()
        {
        }

        public TwoConstructorsHandler(Clock clock) => Clock = clock;

        public Clock? Clock { get; }

        public Task HandleAsync(Tally message, IMessageContext context) => Task.CompletedTask;
    }

    [Fact]
    public void A_handler_taking_only_singletons_closed_or_open_generic_is_made_from_the_root_with_them()
    {
        var services = Registrations<SingletonsOnlyHandler>();

        var factory = ScopeFreeHandlerFactory.TryCreate(typeof(SingletonsOnlyHandler), services);

        Assert.NotNull(factory);
        using var root = services.BuildServiceProvider(validateScopes: true);
        var handler = Assert.IsType<SingletonsOnlyHandler>(factory.Create(root));
        Assert.Same(root.GetRequiredService<Clock>(), handler.Clock);
        var next = Assert.IsType<SingletonsOnlyHandler>(factory.Create(root));
        Assert.NotSame(handler, next); // a new handler per message, as before
        Assert.Same(handler.Clock, next.Clock); // with the same singletons
        using var otherRoot = services.BuildServiceProvider(validateScopes: true);
        var fromOther = Assert.IsType<SingletonsOnlyHandler>(factory.Create(otherRoot));
        Assert.Same(otherRoot.GetRequiredService<Clock>(), fromOther.Clock); // each provider's own singletons
        Assert.NotSame(handler.Clock, fromOther.Clock);
    }

    [Theory]
    [InlineData(typeof(ScopedDependencyHandler))]
    [InlineData(typeof(ProviderHandler))]
    [InlineData(typeof(ManyHandler))]
    [InlineData(typeof(DisposableHandler))]
    [InlineData(typeof(TwoConstructorsHandler))]
    public void A_handler_that_could_take_anything_from_a_scope_keeps_its_scope(Type handlerType)
    {
        var services = Registrations<SingletonsOnlyHandler>();
        services.AddTransient(handlerType);

        Assert.Null(ScopeFreeHandlerFactory.TryCreate(handlerType, services));
    }

    [Fact]
    public void A_dependency_registered_again_as_transient_or_not_at_all_keeps_the_scope()
    {
        var transientAgain = Registrations<SingletonsOnlyHandler>();
        transientAgain.AddTransient<Clock>(); // the last registration wins
        var unregistered = new ServiceCollection().AddLogging();
        unregistered.AddTransient<SingletonsOnlyHandler>();

        Assert.Null(ScopeFreeHandlerFactory.TryCreate(typeof(SingletonsOnlyHandler), transientAgain));
        Assert.Null(ScopeFreeHandlerFactory.TryCreate(typeof(SingletonsOnlyHandler), unregistered));
    }

    [Fact]
    public void A_handler_the_application_registered_again_itself_is_resolved_as_it_registered_it()
    {
        var services = Registrations<SingletonsOnlyHandler>();
        services.AddScoped<SingletonsOnlyHandler>();

        Assert.Null(ScopeFreeHandlerFactory.TryCreate(typeof(SingletonsOnlyHandler), services));
    }

    [Fact]
    public async Task Handlers_with_and_without_scoped_dependencies_of_one_message_both_run_with_what_they_take()
    {
        var seen = new List<object>();
        await using var harness = await BusTestHarness.StartAsync(
            bus =>
            {
                bus.AddHandler<RecordingSingletonsHandler>();
                bus.AddHandler<RecordingScopedHandler>();
            },
            services => services.AddSingleton(seen).AddSingleton<Clock>().AddScoped<Session>());

        await harness.SendAsync(new Tally("one"));
        await harness.SendAsync(new Tally("two"));

        Assert.Equal(2, seen.OfType<Clock>().Count());
        Assert.Single(seen.OfType<Clock>().Distinct());
        Assert.Equal(2, seen.OfType<Session>().Distinct().Count()); // one scope per message for the scoped one
    }

    public sealed class RecordingSingletonsHandler(Clock clock, List<object> seen) : IHandleMessages<Tally>
    {
        public Task HandleAsync(Tally message, IMessageContext context)
        {
            lock (seen)
            {
                seen.Add(clock);
            }

            return Task.CompletedTask;
        }
    }

    public sealed class RecordingScopedHandler(Session session, List<object> seen) : IHandleMessages<Tally>
    {
        public Task HandleAsync(Tally message, IMessageContext context)
        {
            lock (seen)
            {
                seen.Add(session);
            }

            return Task.CompletedTask;
        }
    }

    private static ServiceCollection Registrations<THandler>()
        where THandler : class
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<Clock>();
        services.AddScoped<Session>();
        services.AddTransient<THandler>();
        return services;
    }
}

using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Bus.Leases;
using Bus.Pipeline;
using Bus.Recoverability;
using Bus.Schedules;
using Bus.Serialization;
using Bus.SystemMessages;
using Bus.Transports;
using Bus.Transports.InMemory;
using Cronos;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Bus.Hosting;

/// <summary>What <c>services.AddBus(bus =&gt; ...)</c> configures: the endpoint, its transport, handlers, routing and policies.</summary>
public sealed partial class BusConfiguration
{
    private readonly Dictionary<Type, string> _routes = [];
    private readonly Dictionary<Type, HandlerOptions> _handlerOptions = [];
    private readonly HashSet<Type> _subscriptions = [];
    private readonly List<Type> _incomingSteps = [];
    private readonly List<RecurringSchedule> _schedules = [];

    internal BusConfiguration(IServiceCollection services)
    {
        Services = services;
    }

    /// <summary>The service collection the bus is added to; transport packages register their services here.</summary>
    public IServiceCollection Services { get; }

    /// <summary>This endpoint's name: its input queue. Required. Letters, digits, '.', '-', '_'.</summary>
    public string? EndpointName { get; set; }

    /// <summary>How many messages are handled at once. Default: 2 × processor count.</summary>
    public int MaxConcurrency { get; set; } = Environment.ProcessorCount * 2;

    /// <summary>How many messages may wait, received but not started, beyond <see cref="MaxConcurrency"/>. Default 10.
    /// 0 receives only when a handler is free. Applies only on transports that count an attempt when a handler starts
    /// (<see cref="Transports.TransportCapabilities.CountsAttemptsAtStart"/>: in-memory, SQLite); on SQS and Service
    /// Bus, which count every receive, the bus receives only what its free workers start at once, so a killed worker
    /// never costs an attempt to a message it had not started.</summary>
    public int Prefetch { get; set; } = 10;

    /// <summary>On stop, how long in-flight handlers may finish before their tokens are cancelled. Default 30 seconds.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Fail at start-up when the transport cannot honour a handler's profile (lease renewal, max runtime,
    /// delays). Default true.</summary>
    public bool Strict { get; set; } = true;

    /// <summary>Accept the in-memory step and workflow stores on a transport shared between hosts (SQS, Service Bus):
    /// each host then keeps its own finished steps and workflow state, so a workflow started on one host is not found
    /// by another and a step finished on one runs again on another. Set it when the endpoint runs on one host, or uses
    /// neither steps nor workflows. Default false: strict start-up refuses them and names the durable stores.</summary>
    public bool AllowInMemoryStores { get; set; }

    /// <summary>How long the steps of a finished job are kept in the step store before they are deleted (counted
    /// from the job's latest step). Default 7 days; null keeps them forever. Keep it longer than any job runs and any
    /// message may wait for a retry, or a late retry would run finished steps again.</summary>
    public TimeSpan? StepRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How often the endpoint reads its queue's statistics for the <c>bus.queue.*</c> gauges of the <c>Bus</c>
    /// meter (default 30 seconds; at least 1 second). Null turns the gauges off. Only sampled while a meter listener
    /// (e.g. OpenTelemetry's <c>AddMeter("Bus")</c>) listens, and only on transports that count
    /// (<see cref="Transports.ITransport.Statistics"/>).</summary>
    public TimeSpan? QueueStatisticsInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The retry policy of every handler that does not set its own.</summary>
    public RetryPolicy Retry { get; } = new();

    /// <summary>The execution profile of every handler that does not set its own. Default <see cref="ExecutionProfile.Default"/>.</summary>
    public ExecutionProfile Profile { get; set; } = ExecutionProfile.Default;

    /// <summary>JSON settings of the default serializer (web defaults). Set a source-generated
    /// <see cref="JsonSerializerOptions.TypeInfoResolver"/> here for speed and trimming.</summary>
    public JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);

    /// <summary>Foreign payloads (no bus envelope) this endpoint recognises, e.g. EventBridge events.</summary>
    public SystemMessageMap SystemMessages { get; } = new();

    internal Func<IServiceProvider, ITransport>? TransportFactory { get; private set; }

    internal Func<IServiceProvider, IMessageSerializer>? SerializerFactory { get; private set; }

    internal MessageTypeRegistry Messages { get; } = new();

    internal HandlerRegistry Handlers { get; } = new();

    internal IReadOnlyDictionary<Type, string> Routes => _routes;

    internal IReadOnlyCollection<Type> ExplicitSubscriptions => _subscriptions;

    /// <summary>The user steps added with <see cref="UseIncoming{TStep}"/>, in order.</summary>
    internal IReadOnlyList<Type> IncomingSteps => _incomingSteps;

    /// <summary>Uses the transport that <paramref name="factory"/> creates (once, as a singleton). Transport packages
    /// wrap this in their own <c>UseXxx</c> extension.</summary>
    public BusConfiguration UseTransport(Func<IServiceProvider, ITransport> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        TransportFactory = factory;
        return this;
    }

    /// <summary>Uses the in-memory transport over <paramref name="broker"/> (shared by every endpoint that should
    /// talk to this one), or over the <see cref="InMemoryBroker"/> registered in the container, or a new one.</summary>
    public BusConfiguration UseInMemoryTransport(InMemoryBroker? broker = null, InMemoryTransportOptions? options = null)
    {
        options?.Validate();
        return UseTransport(sp => new InMemoryTransport(
            broker ?? sp.GetService<InMemoryBroker>() ?? new InMemoryBroker(sp.GetService<TimeProvider>()), options));
    }

    /// <summary>
    /// Adds a step to the receive path of every message (an inbox, authorization, tenancy, ...). Steps run in the order
    /// added, after the message is deserialized, inside its DI scope, before the handlers. <typeparamref name="TStep"/>
    /// is resolved from the message's scope for every message, so it can share scoped services with the handlers; it is
    /// registered as scoped unless the application registered it already. See <see cref="IIncomingStep"/>.
    /// </summary>
    public BusConfiguration UseIncoming<TStep>()
        where TStep : class, IIncomingStep
    {
        if (_incomingSteps.Contains(typeof(TStep)))
        {
            throw new BusConfigurationException($"The incoming step '{typeof(TStep).FullName}' was added twice.");
        }

        _incomingSteps.Add(typeof(TStep));
        Services.TryAddScoped<TStep>();
        return this;
    }

    /// <summary>The recurring schedules added with <see cref="Schedule{TMessage}"/>, in order.</summary>
    internal IReadOnlyList<RecurringSchedule> Schedules => _schedules;

    /// <summary>
    /// Sends (a command) or publishes (an event) the message <paramref name="factory"/> makes at every tick of
    /// <paramref name="cron"/> read in <paramref name="zone"/>, across daylight-saving changes (a time the clock skips
    /// fires at the first valid time after it; a time it repeats fires once). Every host of the endpoint runs the
    /// schedule and one fires each tick: the tick is claimed in the <see cref="IScheduleStore"/> (shared by the hosts:
    /// UseSqliteScheduleStore, UsePostgreSqlScheduleStore, UseDynamoDbScheduleStore, UseAzureTablesScheduleStore, ...). List, pause and resume
    /// schedules with <see cref="ISchedules"/>.
    /// </summary>
    /// <param name="cron">Five fields (minute hour day-of-month month day-of-week), or six with seconds first, e.g.
    /// "0 2 * * *" for 02:00 every day. Macros such as "@daily" are read too.</param>
    /// <param name="zone">The time zone the expression is read in, e.g.
    /// <c>TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin")</c> or <see cref="TimeZoneInfo.Utc"/>.</param>
    /// <param name="factory">Makes the message of a tick; given the tick's time in <paramref name="zone"/>.</param>
    /// <param name="configure">Name (default: the message's wire name) and what happens to missed ticks.</param>
    /// <exception cref="BusConfigurationException">The expression does not read, the name is invalid or taken, or the
    /// type is neither a command nor an event.</exception>
    public BusConfiguration Schedule<TMessage>(string cron, TimeZoneInfo zone, Func<DateTimeOffset, TMessage> factory, Action<ScheduleOptions>? configure = null)
        where TMessage : class
    {
        ArgumentNullException.ThrowIfNull(zone);
        ArgumentNullException.ThrowIfNull(factory);
        if (string.IsNullOrWhiteSpace(cron))
        {
            throw new BusConfigurationException($"The schedule of {typeof(TMessage).Name} has no cron expression; give one such as \"0 2 * * *\" (02:00 every day).");
        }

        CronExpression expression;
        try
        {
            var format = cron.Trim().StartsWith('@') || cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length != 6
                ? CronFormat.Standard
                : CronFormat.IncludeSeconds;
            expression = CronExpression.Parse(cron.Trim(), format);
        }
        catch (CronFormatException ex)
        {
            throw new BusConfigurationException(
                $"The cron expression '{cron}' of the schedule of {typeof(TMessage).Name} does not read ({ex.Message}). Use five fields " +
                "(minute hour day-of-month month day-of-week) or six with seconds first, e.g. \"0 2 * * *\" for 02:00 every day.");
        }

        var options = new ScheduleOptions();
        configure?.Invoke(options);
        var type = Messages.Register(typeof(TMessage));
        var name = options.Name ?? type.WireName;
        if (!ScheduleNamePattern().IsMatch(name))
        {
            throw new BusConfigurationException(
                $"'{name}' is not a valid schedule name: use 1-100 letters, digits, '.', '-', '_' or ':' (set ScheduleOptions.Name).");
        }

        if (_schedules.Any(s => s.Name == name))
        {
            throw new BusConfigurationException(
                $"Two schedules are named '{name}': give each its own name with ScheduleOptions.Name (o => o.Name = \"...\").");
        }

        if (!Enum.IsDefined(options.Missed))
        {
            throw new BusConfigurationException($"ScheduleOptions.Missed of schedule '{name}' must be FireOnce or Skip (was {options.Missed}).");
        }

        Func<IBus, DateTimeOffset, DeliveryOptions, CancellationToken, Task> send = type.Kind == MessageKind.Event
            ? (bus, tick, delivery, ct) => bus.PublishAsync(factory(tick), delivery, ct)
            : (bus, tick, delivery, ct) => bus.SendAsync(factory(tick), delivery, ct);
        _schedules.Add(new RecurringSchedule(name, cron.Trim(), expression, zone, options.Missed, typeof(TMessage), send));
        return this;
    }

    /// <summary>Uses a custom serializer instead of System.Text.Json.</summary>
    public BusConfiguration UseSerializer(Func<IServiceProvider, IMessageSerializer> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        SerializerFactory = factory;
        return this;
    }

    /// <summary>Registers a message type, as a command or event (else by its marker interface).</summary>
    public BusConfiguration AddMessage<TMessage>(MessageKind? kind = null)
        where TMessage : class
    {
        Messages.Register(typeof(TMessage), kind);
        return this;
    }

    /// <summary>Registers every concrete <see cref="ICommand"/> and <see cref="IEvent"/> type in <paramref name="assembly"/>.</summary>
    public BusConfiguration AddMessagesFromAssembly(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        foreach (var type in assembly.GetTypes().Where(t => t is { IsAbstract: false, IsInterface: false, IsGenericTypeDefinition: false }
                     && (typeof(ICommand).IsAssignableFrom(t) || typeof(IEvent).IsAssignableFrom(t))))
        {
            Messages.Register(type);
        }

        return this;
    }

    /// <summary>Registers a handler; it handles every <see cref="IHandleMessages{TMessage}"/> it implements. Events it
    /// handles are subscribed to.</summary>
    public BusConfiguration AddHandler<THandler>()
        where THandler : class => AddHandler(typeof(THandler));

    /// <summary>Registers every concrete handler type in <paramref name="assembly"/>.</summary>
    public BusConfiguration AddHandlersFromAssembly(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        foreach (var type in assembly.GetTypes().Where(t => t is { IsAbstract: false, IsInterface: false, IsGenericTypeDefinition: false }
                     && (HandlerRegistry.HandledMessageTypes(t).Any() || HandlerRegistry.BatchedMessageTypes(t).Any())))
        {
            AddHandler(type);
        }

        return this;
    }

    /// <summary>Routes command <typeparamref name="TCommand"/> to its owning endpoint <paramref name="endpoint"/>.</summary>
    public BusConfiguration RouteCommand<TCommand>(string endpoint)
        where TCommand : class
    {
        ValidateName(endpoint, "endpoint");
        var type = Messages.Register(typeof(TCommand), MessageKind.Command);
        if (_routes.TryGetValue(type.ClrType, out var existing) && existing != endpoint)
        {
            throw new BusConfigurationException(
                $"Command '{type.WireName}' is routed to both '{existing}' and '{endpoint}': a command has exactly one owner.");
        }

        _routes[type.ClrType] = endpoint;
        return this;
    }

    /// <summary>Routes every command type in <paramref name="assembly"/> (optionally only in <paramref name="namespacePrefix"/>) to <paramref name="endpoint"/>.</summary>
    public BusConfiguration RouteCommands(Assembly assembly, string endpoint, string? namespacePrefix = null)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        ValidateName(endpoint, "endpoint");
        foreach (var type in assembly.GetTypes().Where(t => t is { IsAbstract: false, IsInterface: false } && typeof(ICommand).IsAssignableFrom(t)
                     && (namespacePrefix is null || (t.Namespace ?? string.Empty).StartsWith(namespacePrefix, StringComparison.Ordinal))))
        {
            var registered = Messages.Register(type, MessageKind.Command);
            if (_routes.TryGetValue(type, out var existing) && existing != endpoint)
            {
                throw new BusConfigurationException(
                    $"Command '{registered.WireName}' is routed to both '{existing}' and '{endpoint}': a command has exactly one owner.");
            }

            _routes[type] = endpoint;
        }

        return this;
    }

    /// <summary>Subscribes this endpoint to <typeparamref name="TEvent"/> (handled events are subscribed automatically).</summary>
    public BusConfiguration Subscribe<TEvent>()
        where TEvent : class
    {
        Messages.Register(typeof(TEvent), MessageKind.Event);
        _subscriptions.Add(typeof(TEvent));
        return this;
    }

    /// <summary>Settings for the handlers of <typeparamref name="TMessage"/>: profile, retries, time window.</summary>
    public BusConfiguration ConfigureHandling<TMessage>(Action<HandlerOptions> configure)
        where TMessage : class
    {
        ArgumentNullException.ThrowIfNull(configure);
        if (!_handlerOptions.TryGetValue(typeof(TMessage), out var options))
        {
            options = new HandlerOptions();
            _handlerOptions[typeof(TMessage)] = options;
        }

        configure(options);
        return this;
    }

    internal HandlerOptions? OptionsFor(Type messageType) => _handlerOptions.GetValueOrDefault(messageType);

    internal IReadOnlyDictionary<Type, HandlerOptions> AllHandlerOptions => _handlerOptions;

    internal BusConfiguration AddHandler(Type handlerType)
    {
        var handled = HandlerRegistry.HandledMessageTypes(handlerType).ToList();
        var batched = HandlerRegistry.BatchedMessageTypes(handlerType).ToList();
        if (handled.Count == 0 && batched.Count == 0)
        {
            throw new BusConfigurationException($"'{handlerType.FullName}' implements no IHandleMessages<T> nor IHandleBatches<T>.");
        }

        foreach (var messageType in batched)
        {
            if (typeof(ICommand).IsAssignableFrom(messageType) || typeof(IEvent).IsAssignableFrom(messageType))
            {
                Messages.Register(messageType);
            }

            Handlers.Add(messageType, HandlerRegistry.CreateBatchInvoker(messageType, handlerType, this));
        }

        foreach (var messageType in handled)
        {
            if (typeof(ICommand).IsAssignableFrom(messageType) || typeof(IEvent).IsAssignableFrom(messageType))
            {
                // Other types (system messages, AddMessage<T>(kind)) are registered by Validate, whatever the order.
                Messages.Register(messageType);
            }

            Handlers.Add(messageType, HandlerRegistry.CreateInvoker(messageType, handlerType));
        }

        // Transient in the per-message scope: a new instance per message with the message's scoped dependencies, and
        // disposed with the scope if disposable; unlike Scoped, a plain handler costs the scope no resolved-services table.
        Services.AddTransient(handlerType);
        return this;
    }

    /// <summary>Checks the whole configuration; throws <see cref="BusConfigurationException"/> naming what is wrong.</summary>
    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(EndpointName))
        {
            throw new BusConfigurationException("Set bus.EndpointName: every bus is an endpoint with its own input queue.");
        }

        ValidateName(EndpointName, nameof(EndpointName));
        if (TransportFactory is null)
        {
            throw new BusConfigurationException("Choose a transport, e.g. bus.UseInMemoryTransport(), bus.UseSqlite(...), bus.UseAmazonSqs(...) or bus.UseAzureServiceBus(...).");
        }

        if (MaxConcurrency is < 1 or > 10_000)
        {
            throw new BusConfigurationException($"MaxConcurrency must be 1 to 10,000 (was {MaxConcurrency}).");
        }

        if (Prefetch is < 0 or > 10_000)
        {
            throw new BusConfigurationException($"Prefetch must be 0 to 10,000 (was {Prefetch}).");
        }

        if (ShutdownTimeout < TimeSpan.Zero || ShutdownTimeout > TimeSpan.FromHours(1))
        {
            throw new BusConfigurationException($"ShutdownTimeout must be 0 to 1 hour (was {ShutdownTimeout}).");
        }

        foreach (var systemType in SystemMessages.MessageTypes)
        {
            Messages.Register(systemType, MessageKind.Event);
        }

        foreach (var handledType in Handlers.MessageTypes)
        {
            // Throws, naming the type, when a handled type is neither marked, mapped as a system message, nor added.
            Messages.Get(handledType);
        }

        if (QueueStatisticsInterval is { } interval && interval < TimeSpan.FromSeconds(1))
        {
            throw new BusConfigurationException($"QueueStatisticsInterval must be at least 1 second, or null to turn the queue gauges off (was {interval}).");
        }

        if (StepRetention is { } retention && retention < TimeSpan.FromMinutes(1))
        {
            throw new BusConfigurationException($"StepRetention must be at least 1 minute, or null to keep steps forever (was {retention}).");
        }

        Retry.Validate();
        Profile.Validate("Default profile");
        foreach (var (type, options) in _handlerOptions)
        {
            options.Validate($"Handling of {type.Name}");
            options.Retry?.Validate();
            options.Profile?.Validate($"Profile of {type.Name}");
        }

        foreach (var schedule in _schedules.Where(s => Messages.Get(s.MessageType).Kind == MessageKind.Command))
        {
            if (!_routes.ContainsKey(schedule.MessageType) && Handlers.For(schedule.MessageType).Length == 0)
            {
                throw new BusConfigurationException(
                    $"Schedule '{schedule.Name}' sends the command {schedule.MessageType.Name}, which has no owner: route it " +
                    $"(bus.RouteCommand<{schedule.MessageType.Name}>(\"endpoint\")) or handle it on this endpoint.");
            }
        }

        foreach (var (type, _) in _routes)
        {
            if (Messages.Get(type).Kind != MessageKind.Command)
            {
                throw new BusConfigurationException($"'{type.FullName}' is an event and cannot be routed; events are published to subscribers.");
            }
        }
    }

    internal static void ValidateName(string? name, string what)
    {
        if (string.IsNullOrWhiteSpace(name) || !EndpointNamePattern().IsMatch(name))
        {
            throw new BusConfigurationException(
                $"'{name}' is not a valid {what}: use 1-64 letters, digits, '.', '-' or '_' (it becomes a queue name).");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,100}$")]
    private static partial Regex ScheduleNamePattern();

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex EndpointNamePattern();
}

using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Pipeline;

/// <summary>Calls one kind of handler for one message type.</summary>
internal interface IHandlerInvoker
{
    /// <summary>A name for logs, e.g. the handler's type name.</summary>
    string Name { get; }

    /// <summary>Calls the handler, resolved from <paramref name="services"/>, the message's scope.</summary>
    Task InvokeAsync(object message, MessageContext context, IServiceProvider services);
}

/// <summary>Which handlers (and workflows) handle which message types.</summary>
internal sealed class HandlerRegistry
{
    private readonly Dictionary<Type, List<IHandlerInvoker>> _byMessage = [];
    private readonly ConcurrentDictionary<Type, IHandlerInvoker[]> _resolved = new();

    public IEnumerable<Type> MessageTypes => _byMessage.Keys;

    public void Add(Type messageType, IHandlerInvoker invoker)
    {
        if (!_byMessage.TryGetValue(messageType, out var list))
        {
            list = [];
            _byMessage[messageType] = list;
        }

        if (!list.Any(i => i.Name == invoker.Name))
        {
            list.Add(invoker);
        }

        _resolved.Clear();
    }

    /// <summary>Every invoker for <paramref name="messageType"/>, including handlers of its base types and interfaces.</summary>
    public IHandlerInvoker[] For(Type messageType) =>
        _resolved.TryGetValue(messageType, out var invokers) ? invokers : _resolved.GetOrAdd(messageType, Resolve);

    private IHandlerInvoker[] Resolve(Type messageType) =>
        _byMessage.Where(kv => kv.Key.IsAssignableFrom(messageType)).SelectMany(kv => kv.Value).ToArray();

    public static IEnumerable<Type> HandledMessageTypes(Type handlerType) =>
        handlerType.GetInterfaces()
            .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IHandleMessages<>))
            .Select(i => i.GetGenericArguments()[0]);

    /// <summary>The message types <paramref name="handlerType"/> handles in batches (<see cref="IHandleBatches{TMessage}"/>).</summary>
    public static IEnumerable<Type> BatchedMessageTypes(Type handlerType) =>
        handlerType.GetInterfaces()
            .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IHandleBatches<>))
            .Select(i => i.GetGenericArguments()[0]);

    /// <summary>A batching invoker of <paramref name="handlerType"/> for <paramref name="messageType"/>.</summary>
    public static IHandlerInvoker CreateBatchInvoker(Type messageType, Type handlerType, Hosting.BusConfiguration config) =>
        (IHandlerInvoker)Activator.CreateInstance(typeof(BatchInvoker<,>).MakeGenericType(messageType, handlerType), config)!;

    /// <summary>An invoker of <paramref name="handlerType"/> for <paramref name="messageType"/>.</summary>
    public static IHandlerInvoker CreateInvoker(Type messageType, Type handlerType) =>
        (IHandlerInvoker)Activator.CreateInstance(typeof(HandlerInvoker<,>).MakeGenericType(messageType, handlerType))!;

    private sealed class HandlerInvoker<TMessage, THandler> : IHandlerInvoker
        where TMessage : class
        where THandler : class, IHandleMessages<TMessage>
    {
        public string Name { get; } = typeof(THandler).FullName ?? typeof(THandler).Name;

        public Task InvokeAsync(object message, MessageContext context, IServiceProvider services) =>
            services.GetRequiredService<THandler>().HandleAsync((TMessage)message, context);
    }
}

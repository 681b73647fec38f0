using System.Reflection;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Pipeline;

/// <summary>
/// Decides, from the service registrations, whether a handler can be made from the root provider instead of a
/// per-message scope, and makes it then. That is so only when nothing the scope could give it exists: the handler is
/// the bus's own transient registration, is not disposable, has one public constructor, and every parameter is a
/// service registered as a singleton (closed, or an open generic such as <c>ILogger&lt;T&gt;</c>). Anything else (a
/// scoped or transient dependency, <see cref="IServiceProvider"/>, an enumerable, a keyed or unregistered service, a
/// registration replaced by the application) keeps the scope. A scope is then unobservable, so skipping it changes
/// nothing but its cost.
/// </summary>
internal static class ScopeFreeHandlerFactory
{
    /// <summary>A maker of <paramref name="handlerType"/> that needs no scope, or null when it needs one.</summary>
    public static ScopeFreeHandler? TryCreate(Type handlerType, IServiceCollection services)
    {
        if (typeof(IDisposable).IsAssignableFrom(handlerType) || typeof(IAsyncDisposable).IsAssignableFrom(handlerType))
        {
            return null;
        }

        var own = Last(services, handlerType);
        if (own is null || own.Lifetime != ServiceLifetime.Transient || own.ImplementationType != handlerType)
        {
            return null;
        }

        var constructors = handlerType.GetConstructors(BindingFlags.Public | BindingFlags.Instance);
        if (constructors.Length != 1)
        {
            return null;
        }

        var parameters = constructors[0].GetParameters();
        foreach (var parameter in parameters)
        {
            if (!IsSingleton(parameter, services))
            {
                return null;
            }
        }

        var parameterTypes = parameters.Select(p => p.ParameterType).ToArray();
        return new ScopeFreeHandler(ActivatorUtilities.CreateFactory(handlerType, parameterTypes), parameterTypes);
    }

    private static bool IsSingleton(ParameterInfo parameter, IServiceCollection services)
    {
        var type = parameter.ParameterType;
        if (type == typeof(IServiceProvider) || type.IsByRef || parameter.GetCustomAttributes().Any(a => a is FromKeyedServicesAttribute))
        {
            return false;
        }

        var registration = Last(services, type) ?? (type.IsConstructedGenericType ? Last(services, type.GetGenericTypeDefinition()) : null);
        return registration is { Lifetime: ServiceLifetime.Singleton };
    }

    /// <summary>The registration that wins for <paramref name="serviceType"/> (the last one), keyed ones aside.</summary>
    private static ServiceDescriptor? Last(IServiceCollection services, Type serviceType)
    {
        for (var i = services.Count - 1; i >= 0; i--)
        {
            var descriptor = services[i];
            if (descriptor.ServiceType == serviceType && !descriptor.IsKeyedService)
            {
                return descriptor;
            }
        }

        return null;
    }
}

/// <summary>Makes a handler whose constructor takes only singletons: they are resolved once per root provider, on first
/// use, and passed to every new handler (the same instances that provider would give each time).</summary>
internal sealed class ScopeFreeHandler(ObjectFactory factory, Type[] parameterTypes)
{
    private Resolved? _resolved;

    public object Create(IServiceProvider root)
    {
        var resolved = Volatile.Read(ref _resolved);
        if (resolved is null || !ReferenceEquals(resolved.Root, root))
        {
            resolved = Resolve(root);
        }

        return factory(root, resolved.Arguments);
    }

    /// <summary>Apart from <see cref="Create"/>: a lambda capturing the provider there would cost a closure per call.</summary>
    private Resolved Resolve(IServiceProvider root)
    {
        var resolved = new Resolved(root, Array.ConvertAll(parameterTypes, type => (object?)root.GetRequiredService(type)));
        Volatile.Write(ref _resolved, resolved);
        return resolved;
    }

    private sealed record Resolved(IServiceProvider Root, object?[] Arguments);
}

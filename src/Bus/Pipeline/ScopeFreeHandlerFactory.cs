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
    /// <summary>A factory for <paramref name="handlerType"/> that needs no scope, or null when it needs one.</summary>
    public static ObjectFactory? TryCreate(Type handlerType, IServiceCollection services)
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

        foreach (var parameter in constructors[0].GetParameters())
        {
            if (!IsSingleton(parameter, services))
            {
                return null;
            }
        }

        return ActivatorUtilities.CreateFactory(handlerType, Type.EmptyTypes);
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

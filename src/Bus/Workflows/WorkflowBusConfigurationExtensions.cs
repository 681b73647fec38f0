using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Bus.Hosting;

/// <summary>Registers workflows on a bus endpoint.</summary>
public static class WorkflowBusConfigurationExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TWorkflow"/>: the messages it declares (handled like any handler's, inside the
    /// message's DI scope, under its lease, with sends held until success), its DI registration, and
    /// <see cref="IWorkflowStatusQuery"/>. State is kept in the registered <see cref="IWorkflowStore"/> (in memory
    /// unless a durable store is added).
    /// </summary>
    /// <param name="bus">The bus configuration.</param>
    /// <param name="name">The stored name of the workflow; default: the type's full name. Keep it stable: instances are
    /// found by it.</param>
    public static BusConfiguration AddWorkflow<TWorkflow>(this BusConfiguration bus, string? name = null)
        where TWorkflow : class
    {
        ArgumentNullException.ThrowIfNull(bus);
        var stateType = StateTypeOf(typeof(TWorkflow));
        typeof(WorkflowBusConfigurationExtensions)
            .GetMethod(nameof(Register), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(typeof(TWorkflow), stateType)
            .Invoke(null, System.Reflection.BindingFlags.DoNotWrapExceptions, null, [bus, name ?? typeof(TWorkflow).FullName ?? typeof(TWorkflow).Name], null);
        return bus;
    }

    private static void Register<TWorkflow, TState>(BusConfiguration bus, string name)
        where TWorkflow : Workflow<TState>
        where TState : class, new()
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 200)
        {
            throw new BusConfigurationException($"'{name}' is not a valid workflow name: use 1-200 characters.");
        }

        var registry = bus.Services.Where(d => d.ServiceType == typeof(WorkflowRegistry)).Select(d => d.ImplementationInstance).OfType<WorkflowRegistry>().FirstOrDefault();
        if (registry is null)
        {
            registry = new WorkflowRegistry();
            bus.Services.AddSingleton(registry);
            bus.Services.TryAddSingleton<IWorkflowStatusQuery, WorkflowStatusQuery>();
        }

        if (registry.Contains(typeof(TWorkflow)))
        {
            throw new BusConfigurationException($"Workflow '{typeof(TWorkflow).FullName}' is registered twice.");
        }

        var definition = WorkflowDefinition<TWorkflow, TState>.Read(name);
        registry.Add(typeof(TWorkflow), name);
        foreach (var binding in definition.Bindings.Values)
        {
            if (typeof(ICommand).IsAssignableFrom(binding.MessageType) || typeof(IEvent).IsAssignableFrom(binding.MessageType))
            {
                bus.Messages.Register(binding.MessageType);
            }

            bus.Handlers.Add(binding.MessageType, new WorkflowInvoker<TWorkflow, TState>(definition, binding, bus));
        }

        bus.Services.AddScoped<TWorkflow>();
    }

    private static Type StateTypeOf(Type workflowType)
    {
        for (var type = workflowType; type is not null; type = type.BaseType)
        {
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Workflow<>))
            {
                return type.GetGenericArguments()[0];
            }
        }

        throw new BusConfigurationException($"'{workflowType.FullName}' is not a workflow: derive it from Workflow<TState>.");
    }
}

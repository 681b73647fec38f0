using Bus.Aws.Ecs;
using Bus.Aws.EventBridge;
using Bus.Workflows.ContainerTasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bus.Aws;

/// <summary>Registers the ECS launcher and the EventBridge rule provisioning.</summary>
public static class AwsServiceCollectionExtensions
{
    /// <summary>Registers <see cref="EcsTaskLauncher"/> as the <see cref="IContainerTaskLauncher"/> that container-task
    /// workflows use.</summary>
    public static IServiceCollection AddEcsTaskLauncher(this IServiceCollection services, Action<EcsTaskLauncherOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new EcsTaskLauncherOptions();
        configure(options);
        options.Validate();
        services.AddSingleton(sp => new EcsTaskLauncher(options, sp.GetService<TimeProvider>()));
        services.AddSingleton<IContainerTaskLauncher>(sp => sp.GetRequiredService<EcsTaskLauncher>());
        return services;
    }

    /// <summary>Creates (or, with <see cref="EcsTaskEventRuleOptions.VerifyOnly"/>, checks) the EventBridge rule,
    /// target and queue policy that route ECS task events to the endpoint's queue when the host starts. In verify-only
    /// mode a missing piece stops the start with a <see cref="BusConfigurationException"/> that lists them.</summary>
    public static IServiceCollection AddEcsTaskEventRule(this IServiceCollection services, Action<EcsTaskEventRuleOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new EcsTaskEventRuleOptions();
        configure(options);
        options.ValidateRule();
        services.AddSingleton<IHostedService>(sp => new EcsTaskEventRuleProvisioning(options, sp.GetService<TimeProvider>()));
        return services;
    }

    /// <summary>Runs the rule provisioning at start, with HTTP clients that live only as long.</summary>
    private sealed class EcsTaskEventRuleProvisioning(EcsTaskEventRuleOptions options, TimeProvider? time) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            using var rule = new EcsTaskEventRule(options, time);
            var findings = await rule.EnsureAsync(cancellationToken).ConfigureAwait(false);
            if (options.VerifyOnly && findings.Count > 0)
            {
                throw new BusConfigurationException(
                    "ECS task events cannot reach the endpoint's queue (verify-only mode creates nothing): " + string.Join("; ", findings) + ".");
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

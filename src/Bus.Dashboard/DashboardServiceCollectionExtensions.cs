using Microsoft.Extensions.DependencyInjection;

namespace Bus.Dashboard;

/// <summary>Adds the bus dashboard's services.</summary>
public static class DashboardServiceCollectionExtensions
{
    /// <summary>Adds the dashboard's options and the antiforgery service its forms use. Map the pages with
    /// <see cref="DashboardEndpointRouteBuilderExtensions.MapBusDashboard"/>.</summary>
    /// <param name="services">The host's services (which also hold <c>AddBus</c>).</param>
    /// <param name="configure">Sets <see cref="BusDashboardOptions.AuthorizationPolicy"/> (or
    /// <see cref="BusDashboardOptions.AllowAnonymous"/>) and the rest.</param>
    public static IServiceCollection AddBusDashboard(this IServiceCollection services, Action<BusDashboardOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddAntiforgery();
        services.AddOptions<BusDashboardOptions>().Configure(configure);
        return services;
    }
}

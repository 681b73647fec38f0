using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Bus.Dashboard.Rendering;

/// <summary>What a dashboard page needs from its request: the options and the routes under the mapped path.</summary>
internal static class DashboardRequest
{
    public static BusDashboardOptions Options(HttpContext http) =>
        http.RequestServices.GetRequiredService<IOptions<BusDashboardOptions>>().Value;

    public static DashboardRoutes Routes(HttpContext http)
    {
        var prefix = http.GetEndpoint()?.Metadata.GetMetadata<DashboardPrefix>()?.Value ?? "/bus";
        return new DashboardRoutes(http.Request.PathBase + prefix, Options(http).Title);
    }

    public static HtmlPage Page(HttpContext http, string heading) => new(Routes(http), http, heading);
}

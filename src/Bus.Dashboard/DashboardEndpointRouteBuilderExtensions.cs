using Bus.Dashboard.Actions;
using Bus.Dashboard.Pages;
using Bus.Dashboard.Rendering;
using Bus.Transports;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Bus.Dashboard;

/// <summary>Maps the bus dashboard into an ASP.NET Core host.</summary>
public static class DashboardEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the dashboard's pages under <paramref name="prefix"/>: queues, dead letters (show, redrive, purge with
    /// confirmation), workflows (listed, and each with its history), jobs and schedules (pause, resume). Every page and action requires
    /// <see cref="BusDashboardOptions.AuthorizationPolicy"/> unless <see cref="BusDashboardOptions.AllowAnonymous"/> is
    /// set; actions are POSTs checked with antiforgery tokens. The host needs <c>AddBus</c> and
    /// <see cref="DashboardServiceCollectionExtensions.AddBusDashboard"/>.
    /// </summary>
    /// <param name="endpoints">The application (or another route builder).</param>
    /// <param name="prefix">The path the dashboard lives at, e.g. "/bus".</param>
    /// <returns>The dashboard's route group, for further conventions (e.g. host filtering).</returns>
    /// <exception cref="InvalidOperationException">A service or option is missing or invalid; the message says what to add.</exception>
    public static RouteGroupBuilder MapBusDashboard(this IEndpointRouteBuilder endpoints, string prefix = "/bus")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (string.IsNullOrWhiteSpace(prefix) || !prefix.StartsWith('/') || prefix.EndsWith('/') || prefix.Contains('{', StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"MapBusDashboard needs a path like \"/bus\" (starting with '/', not ending with '/', no route parameters); it got \"{prefix}\".");
        }

        var services = endpoints.ServiceProvider;
        if (services.GetService<IAntiforgery>() is null)
        {
            throw new InvalidOperationException("The bus dashboard's services are missing: call builder.Services.AddBusDashboard(options => ...) before building the app.");
        }

        if (services.GetService<IDeadLetterQueue>() is null)
        {
            throw new InvalidOperationException("The bus dashboard needs a bus in the same host: call builder.Services.AddBus(...) before building the app.");
        }

        var options = services.GetRequiredService<IOptions<BusDashboardOptions>>().Value;
        options.Validate();
        var group = endpoints.MapGroup(prefix);
        if (options.AllowAnonymous)
        {
            group.AllowAnonymous();
        }
        else
        {
            var policies = services.GetService<IAuthorizationPolicyProvider>()
                ?? throw new InvalidOperationException($"The bus dashboard requires the policy '{options.AuthorizationPolicy}', but authorization is not set up: call builder.Services.AddAuthorization(o => o.AddPolicy(\"{options.AuthorizationPolicy}\", ...)).");
            if (policies.GetPolicyAsync(options.AuthorizationPolicy!).GetAwaiter().GetResult() is null)
            {
                throw new InvalidOperationException($"The bus dashboard requires the authorization policy '{options.AuthorizationPolicy}', which does not exist: add it with builder.Services.AddAuthorization(o => o.AddPolicy(\"{options.AuthorizationPolicy}\", ...)).");
            }

            group.RequireAuthorization(options.AuthorizationPolicy!);
        }

        group.AddEndpointFilter(async (context, next) =>
        {
            var headers = context.HttpContext.Response.Headers;
            headers.ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
            headers.XContentTypeOptions = "nosniff";
            headers.CacheControl = "no-store";
            headers["Referrer-Policy"] = "same-origin";
            return await next(context).ConfigureAwait(false);
        });

        group.MapGet("/", (HttpContext http) => Results.Redirect(http.Request.PathBase + prefix + "/queues"));
        group.MapGet("/dashboard.css", Stylesheet.Serve);
        group.MapGet("/queues", QueuesPage.RenderAsync);
        group.MapGet("/queues/{queue}/dead-letters", DeadLettersPage.RenderAsync);
        group.MapGet("/queues/{queue}/dead-letters/purge", PurgeConfirmationPage.RenderAsync);
        group.MapGet("/queues/{queue}/dead-letters/{messageId}", DeadLetterDetailsPage.RenderAsync);
        group.MapPost("/queues/{queue}/dead-letters/redrive", DeadLetterActions.RedriveAsync);
        group.MapPost("/queues/{queue}/dead-letters/purge", DeadLetterActions.PurgeAsync);
        group.MapGet("/workflows", WorkflowsPage.RenderAsync);
        group.MapGet("/jobs", JobsPage.RenderAsync);
        group.MapGet("/schedules", SchedulesPage.RenderAsync);
        group.MapPost("/schedules/{name}/pause", ScheduleActions.PauseAsync);
        group.MapPost("/schedules/{name}/resume", ScheduleActions.ResumeAsync);
        group.WithMetadata(new DashboardPrefix(prefix));
        return group;
    }
}

/// <summary>The path the dashboard was mapped at, as endpoint metadata.</summary>
internal sealed record DashboardPrefix(string Value);

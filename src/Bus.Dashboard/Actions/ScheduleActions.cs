using Bus.Dashboard.Rendering;
using Bus.Schedules;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Bus.Dashboard.Actions;

/// <summary>Pause and resume a schedule: POSTs whose antiforgery token is checked before anything changes; each
/// redirects back to the schedules page with what it did.</summary>
internal static class ScheduleActions
{
    public static Task<IResult> PauseAsync(
        HttpContext http, string name, ISchedules schedules, IAntiforgery antiforgery, ILoggerFactory loggers, CancellationToken cancellationToken) =>
        SetPausedAsync(http, name, paused: true, schedules, antiforgery, loggers, cancellationToken);

    public static Task<IResult> ResumeAsync(
        HttpContext http, string name, ISchedules schedules, IAntiforgery antiforgery, ILoggerFactory loggers, CancellationToken cancellationToken) =>
        SetPausedAsync(http, name, paused: false, schedules, antiforgery, loggers, cancellationToken);

    private static async Task<IResult> SetPausedAsync(
        HttpContext http, string name, bool paused, ISchedules schedules, IAntiforgery antiforgery, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var action = paused ? "pause" : "resume";
        if (!http.Request.HasFormContentType)
        {
            return Refuse(http, $"The {action} needs a form post from the dashboard.", StatusCodes.Status400BadRequest);
        }

        try
        {
            await antiforgery.ValidateRequestAsync(http).ConfigureAwait(false);
        }
        catch (AntiforgeryValidationException)
        {
            return Refuse(http, $"The {action} was refused: its antiforgery token is missing or invalid. Reload the page and try again.", StatusCodes.Status400BadRequest);
        }

        try
        {
            await (paused ? schedules.PauseAsync(name, cancellationToken) : schedules.ResumeAsync(name, cancellationToken)).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            return Refuse(http, e.Message, StatusCodes.Status404NotFound);
        }

        loggers.CreateLogger("Bus.Dashboard").LogInformation("Dashboard: {User} {Action}d schedule {Schedule}", http.User.Identity?.Name ?? "anonymous", action, name);
        return Results.Redirect(DashboardRoutes.WithQuery(DashboardRequest.Routes(http).Schedules, (paused ? "paused" : "resumed", name)));
    }

    private static IResult Refuse(HttpContext http, string why, int status) =>
        DashboardRequest.Page(http, "Refused").Element("p", why, "warning").ToResult(status);
}

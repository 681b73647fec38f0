using Bus.Dashboard.Rendering;
using Bus.Schedules;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;

namespace Bus.Dashboard.Pages;

/// <summary>The endpoint's recurring schedules (<see cref="ISchedules"/>): cron, zone, next and last firing, and a pause
/// or resume button (an antiforgery-checked POST) for each.</summary>
internal static class SchedulesPage
{
    public static async Task<IResult> RenderAsync(HttpContext http, ISchedules schedules, IAntiforgery antiforgery, CancellationToken cancellationToken)
    {
        var page = DashboardRequest.Page(http, "Schedules");
        page.Notice(ActionNotice(http));
        var list = await schedules.ListAsync(cancellationToken).ConfigureAwait(false);
        if (list.Count == 0)
        {
            return page.Element("p", "This endpoint has no recurring schedules (bus.Schedule<T>(cron, zone, factory) adds them).", "muted").ToResult();
        }

        page.Raw("<table id=\"schedules\"><thead><tr><th>Schedule</th><th>Message type</th><th>Cron</th><th>Time zone</th><th>Next firing</th><th>Last firing</th><th>Fired at</th><th>State</th><th>Actions</th></tr></thead><tbody>");
        foreach (var schedule in list)
        {
            var state = schedule.Paused ? "Paused" : "Active";
            page.Raw("<tr data-name=\"").Attribute(schedule.Name).Raw("\"><td>").Text(schedule.Name)
                .Raw("</td><td>").Text(schedule.MessageType)
                .Raw("</td><td><code>").Text(schedule.Cron).Raw("</code>")
                .Raw("</td><td>").Text(schedule.TimeZone)
                .Raw("</td><td class=\"next\">").Time(schedule.NextFiring)
                .Raw("</td><td>").Time(schedule.LastFiring)
                .Raw("</td><td>").Time(schedule.LastFiredAt)
                .Raw("</td><td class=\"state status-").Text(state).Raw("\">").Text(state)
                .Raw("</td><td>");
            var routes = page.Routes;
            page.PostForm(schedule.Paused ? routes.ResumeSchedule(schedule.Name) : routes.PauseSchedule(schedule.Name), antiforgery)
                .Raw(schedule.Paused
                    ? "<button type=\"submit\" name=\"resume\">Resume</button></form>"
                    : "<button type=\"submit\" name=\"pause\" class=\"secondary\">Pause</button></form>")
                .Raw("</td></tr>");
        }

        page.Raw("</tbody></table>");
        page.Element("p", "Pausing is recorded in the schedule store: it holds for every host that shares the store. Ticks that fall in a pause never fire.", "muted");
        return page.ToResult();
    }

    private static string? ActionNotice(HttpContext http)
    {
        var q = http.Request.Query;
        return !string.IsNullOrEmpty(q["paused"]) ? $"Paused {q["paused"]}."
            : !string.IsNullOrEmpty(q["resumed"]) ? $"Resumed {q["resumed"]}."
            : null;
    }
}

using Bus.Dashboard.Rendering;
using Microsoft.AspNetCore.Http;

namespace Bus.Dashboard.Pages;

/// <summary>Recurring schedules. This build of Bus has no schedule query yet; the page says so instead of guessing.</summary>
internal static class SchedulesPage
{
    public static IResult Render(HttpContext http) =>
        DashboardRequest.Page(http, "Schedules")
            .Element("p", "This version of Bus has no recurring schedules to list. Once the schedule query lands, this page lists each schedule with its next and last firing, and pauses and resumes them.", "muted")
            .ToResult();
}

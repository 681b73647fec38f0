using System.Globalization;
using Bus.Dashboard.Rendering;
using Bus.Jobs;
using Microsoft.AspNetCore.Http;

namespace Bus.Dashboard.Pages;

/// <summary>Running jobs with progress bars (<see cref="IJobStatusQuery"/>), and any job's status by message id.</summary>
internal static class JobsPage
{
    public static async Task<IResult> RenderAsync(HttpContext http, IJobStatusQuery jobs, CancellationToken cancellationToken)
    {
        var page = DashboardRequest.Page(http, "Jobs");
        var id = string.IsNullOrWhiteSpace(http.Request.Query["id"]) ? null : http.Request.Query["id"].ToString().Trim();
        page.Raw("<form method=\"get\" class=\"filters\" id=\"find-job\">").Input("id", "Job (message) id", id)
            .Raw("<button type=\"submit\">Find</button></form>");
        if (id is not null)
        {
            var job = await jobs.GetAsync(id, cancellationToken).ConfigureAwait(false);
            if (job is null)
            {
                page.Element("p", $"No job '{id}' reported progress or a result.", "warning");
            }
            else
            {
                page.Element("h2", "Job " + id);
                page.Raw("<dl id=\"job\"><dt>Type</dt><dd>").Text(job.MessageType)
                    .Raw("</dd><dt>State</dt><dd id=\"job-state\" class=\"status-").Text(job.State.ToString()).Raw("\">").Text(job.State.ToString())
                    .Raw("</dd><dt>Progress</dt><dd>");
                Progress(page, job);
                page.Raw("</dd><dt>Attempt</dt><dd>").Number(job.Attempt)
                    .Raw("</dd><dt>Updated</dt><dd>").Time(job.UpdatedAt)
                    .Raw("</dd><dt>Result</dt><dd><pre id=\"job-result\">").Text(job.ResultJson ?? "–").Raw("</pre></dd></dl>");
            }
        }

        var running = await jobs.RunningAsync(DashboardRequest.Options(http).PageSize, cancellationToken).ConfigureAwait(false);
        page.Element("h2", "Running");
        if (running.Count == 0)
        {
            return page.Element("p", "No running job reported progress.", "muted").ToResult();
        }

        page.Raw("<table id=\"running-jobs\"><thead><tr><th>Message id</th><th>Type</th><th>Progress</th><th class=\"num\">Attempt</th><th>Updated</th></tr></thead><tbody>");
        foreach (var job in running)
        {
            page.Raw("<tr data-id=\"").Attribute(job.MessageId).Raw("\"><td>")
                .Link(DashboardRoutes.WithQuery(page.Routes.Jobs, ("id", job.MessageId)), job.MessageId)
                .Raw("</td><td>").Text(job.MessageType).Raw("</td><td>");
            Progress(page, job);
            page.Raw("</td><td class=\"num\">").Number(job.Attempt).Raw("</td><td>").Time(job.UpdatedAt).Raw("</td></tr>");
        }

        page.Raw("</tbody></table>");
        return page.ToResult();
    }

    /// <summary>A progress bar (the HTML element, no script) with done / total and the percentage.</summary>
    private static void Progress(HtmlPage page, JobStatus job)
    {
        var percent = (job.Fraction * 100).ToString("0", CultureInfo.InvariantCulture);
        page.Raw("<progress max=\"").Text(Math.Max(job.Total, 0).ToString(CultureInfo.InvariantCulture))
            .Raw("\" value=\"").Text(Math.Clamp(job.Done, 0, Math.Max(job.Total, 0)).ToString(CultureInfo.InvariantCulture))
            .Raw("\">").Text(percent + "%").Raw("</progress> <span class=\"progress-text\">")
            .Number(job.Done).Raw(" / ").Number(job.Total).Raw(" (").Text(percent).Raw("%)</span>");
    }
}

using System.Globalization;
using Bus.Dashboard.Rendering;
using Bus.Transports;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;

namespace Bus.Dashboard.Pages;

/// <summary>The dead letters of one queue, filtered and paged, with redrive and purge for the ones shown.</summary>
internal static class DeadLettersPage
{
    public static async Task<IResult> RenderAsync(
        HttpContext http, string queue, IDeadLetterQueue deadLetters, IAntiforgery antiforgery, CancellationToken cancellationToken)
    {
        var page = DashboardRequest.Page(http, "Dead letters of " + queue);
        var q = http.Request.Query;
        string? Get(string name) => string.IsNullOrWhiteSpace(q[name]) ? null : q[name].ToString().Trim();
        var type = Get("type");
        var reason = Get("reason");
        var since = Get("since");
        var until = Get("until");
        var token = Get("page");

        page.Raw("<p>").Link(page.Routes.Queues, "← Queues").Raw("</p>");
        page.Notice(ActionNotice(http));

        page.Raw("<form method=\"get\" class=\"filters\" id=\"filters\">")
            .Input("type", "Message type", type)
            .Input("reason", "Reason contains", reason)
            .Input("since", "Failed from (UTC)", since)
            .Input("until", "Failed before (UTC)", until)
            .Raw("<button type=\"submit\" class=\"secondary\">Filter</button></form>");

        DeadLetterQuery query;
        try
        {
            query = new DeadLetterQuery
            {
                MessageTypes = type is null ? null : [type],
                ReasonContains = reason,
                FailedFrom = ParseTime(since, "Failed from"),
                FailedBefore = ParseTime(until, "Failed before"),
                PageSize = DashboardRequest.Options(http).PageSize,
                ContinuationToken = token,
            };
            query.Validate();
        }
        catch (ArgumentException ex)
        {
            return page.Element("p", ex.Message, "warning").ToResult(StatusCodes.Status400BadRequest);
        }

        DeadLetterPage found;
        try
        {
            found = await deadLetters.ListAsync(queue, query, cancellationToken).ConfigureAwait(false);
        }
        catch (ArgumentException ex)
        {
            return page.Element("p", ex.Message, "warning").ToResult(StatusCodes.Status400BadRequest);
        }

        if (found.Items.Count == 0)
        {
            return page.Element("p", token is null ? "No dead letters match." : "No more dead letters.", "muted").ToResult();
        }

        var routes = page.Routes;
        page.Raw("<table id=\"dead-letters\"><thead><tr><th>Message id</th><th>Type</th><th>Reason</th><th class=\"num\">Attempts</th><th>Failed at</th><th>Actions</th></tr></thead><tbody>");
        foreach (var letter in found.Items)
        {
            var id = letter.Message.MessageId ?? string.Empty;
            page.Raw("<tr data-id=\"").Attribute(id).Raw("\"><td>");
            if (id.Length > 0)
            {
                page.Link(routes.DeadLetter(queue, id), id);
            }
            else
            {
                page.Element("span", "(no id: a foreign message)", "muted");
            }

            page.Raw("</td><td>").Text(TypeOf(letter.Message))
                .Raw("</td><td>").Text(letter.Failure.Reason)
                .Raw("</td><td class=\"num\">").Number(letter.Failure.Attempts)
                .Raw("</td><td>").Time(letter.Failure.FailedAt)
                .Raw("</td><td>");
            if (id.Length > 0)
            {
                page.PostForm(routes.Redrive(queue), antiforgery).Raw(" ").Hidden("id", id)
                    .Raw("<button type=\"submit\" name=\"redrive\" class=\"secondary\">Redrive</button></form> ")
                    .Link(DashboardRoutes.WithQuery(routes.Purge(queue), ("id", id)), "Purge…");
            }

            page.Raw("</td></tr>");
        }

        page.Raw("</tbody></table>");
        var ids = found.Items.Select(l => l.Message.MessageId).OfType<string>().ToList();
        page.Raw("<div class=\"actions\">");
        page.PostForm(routes.Redrive(queue), antiforgery, "redrive-shown");
        foreach (var id in ids)
        {
            page.Hidden("id", id);
        }

        page.Raw("<button type=\"submit\">").Text("Redrive the " + DashboardRoutes.Count(ids.Count, "dead letter", "dead letters") + " shown").Raw("</button></form>");
        page.Raw("<form method=\"get\" action=\"").Attribute(routes.Purge(queue)).Raw("\">");
        foreach (var id in ids)
        {
            page.Hidden("id", id);
        }

        page.Raw("<button type=\"submit\" class=\"danger\" id=\"purge-shown\">").Text("Purge the " + DashboardRoutes.Count(ids.Count, "dead letter", "dead letters") + " shown…").Raw("</button></form></div>");
        if (found.ContinuationToken is not null)
        {
            page.Raw("<p>").Link(
                DashboardRoutes.WithQuery(routes.DeadLetters(queue), ("type", type), ("reason", reason), ("since", since), ("until", until), ("page", found.ContinuationToken)),
                "Next page →",
                "next-page").Raw("</p>");
        }

        return page.ToResult();
    }

    internal static string TypeOf(TransportMessage message) =>
        message.Headers.TryGetValue(MessageHeaders.MessageType, out var type) ? type : "(unknown)";

    /// <summary>The result of the last action, from the query string the action redirected with.</summary>
    internal static string? ActionNotice(HttpContext http)
    {
        var q = http.Request.Query;
        if (int.TryParse(q["redriven"], NumberStyles.None, CultureInfo.InvariantCulture, out var redriven))
        {
            return "Redrove " + DashboardRoutes.Count(redriven, "dead letter", "dead letters") + " to the queue.";
        }

        if (int.TryParse(q["purged"], NumberStyles.None, CultureInfo.InvariantCulture, out var purged))
        {
            return "Purged " + DashboardRoutes.Count(purged, "dead letter", "dead letters") + " for good.";
        }

        return null;
    }

    private static DateTimeOffset? ParseTime(string? text, string field) =>
        text is null
            ? null
            : DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at)
                ? at
                : throw new ArgumentException($"{field} is not a time: write it like 2026-12-06 13:45 (UTC).");
}

using Bus.Dashboard.Rendering;
using Bus.Transports;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;

namespace Bus.Dashboard.Pages;

/// <summary>Asks before purging: lists the dead letters that would be deleted for good and posts the confirmation.</summary>
internal static class PurgeConfirmationPage
{
    public static async Task<IResult> RenderAsync(
        HttpContext http, string queue, IDeadLetterQueue deadLetters, IAntiforgery antiforgery, CancellationToken cancellationToken)
    {
        var page = DashboardRequest.Page(http, "Purge dead letters of " + queue);
        var routes = page.Routes;
        var ids = http.Request.Query["id"].OfType<string>().Where(id => id.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        if (ids.Count == 0 || ids.Count > DeadLetterQuery.MaxPageSize)
        {
            return page.Element("p", $"Choose 1 to {DeadLetterQuery.MaxPageSize} dead letters to purge (id=...).", "warning")
                .ToResult(StatusCodes.Status400BadRequest);
        }

        var found = await deadLetters.ListAsync(queue, new DeadLetterQuery { MessageIds = ids, PageSize = ids.Count }, cancellationToken).ConfigureAwait(false);
        if (found.Items.Count == 0)
        {
            return page.Element("p", "None of these dead letters is in the queue any more.", "warning").ToResult(StatusCodes.Status404NotFound);
        }

        page.Raw("<p class=\"warning\">").Text($"Purging deletes {DashboardRoutes.Count(found.Items.Count, "dead letter", "dead letters")} of '{queue}' for good. They cannot be redriven afterwards.").Raw("</p>");
        page.Raw("<table id=\"to-purge\"><thead><tr><th>Message id</th><th>Type</th><th>Reason</th></tr></thead><tbody>");
        foreach (var letter in found.Items)
        {
            page.Raw("<tr><td>").Text(letter.Message.MessageId).Raw("</td><td>").Text(DeadLettersPage.TypeOf(letter.Message))
                .Raw("</td><td>").Text(letter.Failure.Reason).Raw("</td></tr>");
        }

        page.Raw("</tbody></table><div class=\"actions\">");
        page.PostForm(routes.Purge(queue), antiforgery, "confirm-purge").Hidden("confirm", "yes");
        foreach (var letter in found.Items)
        {
            page.Hidden("id", letter.Message.MessageId);
        }

        page.Raw("<button type=\"submit\" class=\"danger\" id=\"confirm-purge-button\">")
            .Text("Yes, purge " + DashboardRoutes.Count(found.Items.Count, "dead letter", "dead letters")).Raw("</button></form>")
            .Link(routes.DeadLetters(queue), "Cancel", "cancel-purge").Raw("</div>");
        return page.ToResult();
    }
}

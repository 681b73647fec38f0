using System.Text;
using Bus.Dashboard.Rendering;
using Bus.Transports;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;

namespace Bus.Dashboard.Pages;

/// <summary>One dead letter: its failure, headers and body (escaped), with redrive and purge.</summary>
internal static class DeadLetterDetailsPage
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static async Task<IResult> RenderAsync(
        HttpContext http, string queue, string messageId, IDeadLetterQueue deadLetters, IAntiforgery antiforgery, CancellationToken cancellationToken)
    {
        var page = DashboardRequest.Page(http, "Dead letter " + messageId);
        var routes = page.Routes;
        page.Raw("<p>").Link(routes.DeadLetters(queue), "← Dead letters of " + queue).Raw("</p>");
        var found = await deadLetters.ListAsync(queue, new DeadLetterQuery { MessageIds = [messageId], PageSize = 1 }, cancellationToken).ConfigureAwait(false);
        if (found.Items.Count == 0)
        {
            return page.Element("p", $"No dead letter '{messageId}' in '{queue}' (redriven or purged already?).", "warning").ToResult(StatusCodes.Status404NotFound);
        }

        var letter = found.Items[0];
        var failure = letter.Failure;
        page.Element("h2", "Failure");
        page.Raw("<dl id=\"failure\">")
            .Raw("<dt>Reason</dt><dd id=\"reason\">").Text(failure.Reason).Raw("</dd>")
            .Raw("<dt>Exception</dt><dd>").Text(failure.ExceptionType ?? "–").Raw("</dd>")
            .Raw("<dt>Exception message</dt><dd>").Text(failure.ExceptionMessage ?? "–").Raw("</dd>")
            .Raw("<dt>Attempts</dt><dd>").Number(failure.Attempts).Raw("</dd>")
            .Raw("<dt>Source queue</dt><dd>").Text(failure.SourceQueue).Raw("</dd>")
            .Raw("<dt>Failed at</dt><dd>").Time(failure.FailedAt).Raw("</dd></dl>");
        if (failure.StackTrace is not null)
        {
            page.Element("h2", "Stack trace").Raw("<pre id=\"stack-trace\">").Text(failure.StackTrace).Raw("</pre>");
        }

        page.Raw("<div class=\"actions\">");
        page.PostForm(routes.Redrive(queue), antiforgery, "redrive-one").Hidden("id", messageId)
            .Raw("<button type=\"submit\">Redrive</button></form>");
        page.Raw("<form method=\"get\" action=\"").Attribute(routes.Purge(queue)).Raw("\">").Hidden("id", messageId)
            .Raw("<button type=\"submit\" class=\"danger\" id=\"purge-one\">Purge…</button></form></div>");

        page.Element("h2", "Body");
        var (body, encoding) = BodyText(letter.Message.Body);
        page.Element("p", encoding, "muted").Raw("<pre id=\"body\">").Text(body).Raw("</pre>");

        page.Element("h2", "Headers");
        page.Raw("<table id=\"headers\"><tbody>");
        foreach (var (name, value) in letter.Message.Headers.OrderBy(h => h.Key, StringComparer.Ordinal))
        {
            page.Raw("<tr><th>").Text(name).Raw("</th><td>").Text(value).Raw("</td></tr>");
        }

        page.Raw("</tbody></table>");
        return page.ToResult();
    }

    /// <summary>The body as UTF-8 text, or as base64 when it is not UTF-8.</summary>
    internal static (string Text, string Encoding) BodyText(ReadOnlyMemory<byte> body)
    {
        try
        {
            return (StrictUtf8.GetString(body.Span), $"{body.Length:N0} bytes, UTF-8 text:");
        }
        catch (DecoderFallbackException)
        {
            return (Convert.ToBase64String(body.Span), $"{body.Length:N0} bytes, not UTF-8 text; shown as base64:");
        }
    }
}

using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Unicode;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;

namespace Bus.Dashboard.Rendering;

/// <summary>
/// Writes one dashboard page. Markup is written only from literals in this assembly (<see cref="Raw"/>); everything
/// else (queue names, bodies, headers, reasons, state) goes through <see cref="Text"/> or <see cref="Attribute"/>, which
/// HTML-encode it.
/// </summary>
internal sealed class HtmlPage(DashboardRoutes routes, HttpContext http, string heading)
{
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Create(UnicodeRanges.All); // still encodes <, >, & and quotes
    private readonly StringBuilder _html = new();

    public DashboardRoutes Routes => routes;

    /// <summary>Literal markup from this assembly; never user data.</summary>
    public HtmlPage Raw(string markup)
    {
        _html.Append(markup);
        return this;
    }

    /// <summary>Text, HTML-encoded.</summary>
    public HtmlPage Text(string? text)
    {
        Encoder.Encode(new StringWriter(_html, CultureInfo.InvariantCulture), text ?? string.Empty);
        return this;
    }

    /// <summary>A number, formatted invariantly.</summary>
    public HtmlPage Number(long? value) => Text(value?.ToString("N0", CultureInfo.InvariantCulture) ?? "–");

    /// <summary>A time, in UTC.</summary>
    public HtmlPage Time(DateTimeOffset? at) =>
        Text(at is null || at == DateTimeOffset.MinValue ? "–" : at.Value.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture));

    /// <summary>An attribute value, HTML-encoded (write the quotes with <see cref="Raw"/>).</summary>
    public HtmlPage Attribute(string? value) => Text(value);

    /// <summary>An element with encoded text: <c>&lt;tag class="..."&gt;text&lt;/tag&gt;</c>.</summary>
    public HtmlPage Element(string tag, string? text, string? cssClass = null)
    {
        _html.Append('<').Append(tag);
        if (cssClass is not null)
        {
            _html.Append(" class=\"").Append(cssClass).Append('"');
        }

        _html.Append('>');
        Text(text);
        _html.Append("</").Append(tag).Append('>');
        return this;
    }

    /// <summary>A link to a dashboard path (already URL-escaped by <see cref="DashboardRoutes"/>).</summary>
    public HtmlPage Link(string href, string? text, string? id = null)
    {
        _html.Append("<a href=\"");
        Attribute(href);
        _html.Append('"');
        if (id is not null)
        {
            _html.Append(" id=\"");
            Attribute(id);
            _html.Append('"');
        }

        _html.Append('>');
        Text(text);
        _html.Append("</a>");
        return this;
    }

    /// <summary>Opens a POST form with its antiforgery token (close it with <c>Raw("&lt;/form&gt;")</c>).</summary>
    public HtmlPage PostForm(string action, IAntiforgery antiforgery, string? id = null)
    {
        var tokens = antiforgery.GetAndStoreTokens(http);
        _html.Append("<form method=\"post\" action=\"");
        Attribute(action);
        _html.Append('"');
        if (id is not null)
        {
            _html.Append(" id=\"");
            Attribute(id);
            _html.Append('"');
        }

        _html.Append("><input type=\"hidden\" name=\"");
        Attribute(tokens.FormFieldName);
        _html.Append("\" value=\"");
        Attribute(tokens.RequestToken);
        _html.Append("\">");
        return this;
    }

    /// <summary>A hidden form field.</summary>
    public HtmlPage Hidden(string name, string? value)
    {
        _html.Append("<input type=\"hidden\" name=\"");
        Attribute(name);
        _html.Append("\" value=\"");
        Attribute(value);
        _html.Append("\">");
        return this;
    }

    /// <summary>A labelled text input.</summary>
    public HtmlPage Input(string name, string label, string? value, string type = "text")
    {
        _html.Append("<label>");
        Text(label);
        _html.Append(" <input type=\"").Append(type).Append("\" name=\"");
        Attribute(name);
        _html.Append("\" id=\"");
        Attribute(name);
        _html.Append("\" value=\"");
        Attribute(value);
        _html.Append("\"></label> ");
        return this;
    }

    /// <summary>An option of a select, selected when its value is <paramref name="selected"/>.</summary>
    public HtmlPage Option(string value, string label, string? selected)
    {
        _html.Append("<option value=\"");
        Attribute(value);
        _html.Append('"');
        if (string.Equals(value, selected ?? string.Empty, StringComparison.OrdinalIgnoreCase))
        {
            _html.Append(" selected");
        }

        _html.Append('>');
        Text(label);
        _html.Append("</option>");
        return this;
    }

    /// <summary>A notice (e.g. the result of an action) when there is one.</summary>
    public HtmlPage Notice(string? text)
    {
        if (!string.IsNullOrEmpty(text))
        {
            _html.Append("<p class=\"notice\" id=\"notice\" role=\"status\">");
            Text(text);
            _html.Append("</p>");
        }

        return this;
    }

    /// <summary>The page wrapped in the layout, as an HTML response.</summary>
    public IResult ToResult(int statusCode = StatusCodes.Status200OK)
    {
        var page = new StringBuilder(_html.Length + 1024);
        var title = routes.Title;
        page.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
        page.Append(Encoder.Encode(heading)).Append(" · ").Append(Encoder.Encode(title));
        page.Append("</title><link rel=\"stylesheet\" href=\"").Append(Encoder.Encode(routes.Stylesheet)).Append("\"></head><body><header><span class=\"brand\">");
        page.Append(Encoder.Encode(title)).Append("</span><nav>");
        foreach (var (href, label) in new[] { (routes.Queues, "Queues"), (routes.Workflows, "Workflows"), (routes.Jobs, "Jobs"), (routes.Schedules, "Schedules") })
        {
            page.Append("<a href=\"").Append(Encoder.Encode(href)).Append("\">").Append(label).Append("</a>");
        }

        page.Append("</nav></header><main><h1>").Append(Encoder.Encode(heading)).Append("</h1>");
        page.Append(_html);
        page.Append("</main></body></html>");
        return Results.Content(page.ToString(), "text/html; charset=utf-8", Encoding.UTF8, statusCode);
    }
}

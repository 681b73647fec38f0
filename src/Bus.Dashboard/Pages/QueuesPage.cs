using System.Globalization;
using Bus.Dashboard.Rendering;
using Bus.Transports;
using Microsoft.AspNetCore.Http;

namespace Bus.Dashboard.Pages;

/// <summary>Every queue the transport knows, with its counts from <see cref="IQueueStatistics"/>.</summary>
internal static class QueuesPage
{
    public static async Task<IResult> RenderAsync(HttpContext http, IQueueStatistics statistics, CancellationToken cancellationToken)
    {
        var page = DashboardRequest.Page(http, "Queues");
        IReadOnlyList<string> queues;
        try
        {
            queues = await statistics.ListQueuesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NotSupportedException ex)
        {
            return page.Element("p", ex.Message, "warning").ToResult();
        }

        if (queues.Count == 0)
        {
            return page.Element("p", "The transport has no queues yet.", "muted").ToResult();
        }

        page.Raw("<table id=\"queues\"><thead><tr><th>Queue</th><th class=\"num\">Ready</th><th class=\"num\">In flight</th><th class=\"num\">Delayed</th><th class=\"num\">Dead-lettered</th><th class=\"num\">Oldest message</th></tr></thead><tbody>");
        foreach (var queue in queues)
        {
            var counts = await statistics.GetAsync(queue, cancellationToken).ConfigureAwait(false);
            page.Raw("<tr data-queue=\"").Attribute(queue).Raw("\"><td>").Text(queue)
                .Raw("</td><td class=\"num\">").Number(counts.Ready)
                .Raw("</td><td class=\"num\">").Number(counts.InFlight)
                .Raw("</td><td class=\"num\">").Number(counts.Delayed)
                .Raw("</td><td class=\"num\">").Link(page.Routes.DeadLetters(queue), counts.DeadLettered.ToString("N0", CultureInfo.InvariantCulture))
                .Raw("</td><td class=\"num\">").Text(Age(counts.OldestMessageAge))
                .Raw("</td></tr>");
        }

        page.Raw("</tbody></table><p class=\"muted\">A dash means the transport cannot tell that figure.</p>");
        return page.ToResult();
    }

    /// <summary>An age as "3 d 4 h", "5 min 2 s" or "–".</summary>
    internal static string Age(TimeSpan? age) => age switch
    {
        null => "–",
        { TotalDays: >= 1 } a => string.Create(CultureInfo.InvariantCulture, $"{(int)a.TotalDays} d {a.Hours} h"),
        { TotalHours: >= 1 } a => string.Create(CultureInfo.InvariantCulture, $"{a.Hours} h {a.Minutes} min"),
        { TotalMinutes: >= 1 } a => string.Create(CultureInfo.InvariantCulture, $"{a.Minutes} min {a.Seconds} s"),
        { } a => string.Create(CultureInfo.InvariantCulture, $"{Math.Max(0, (int)a.TotalSeconds)} s"),
    };
}

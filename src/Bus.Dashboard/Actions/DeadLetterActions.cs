using Bus.Dashboard.Rendering;
using Bus.Transports;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Bus.Dashboard.Actions;

/// <summary>The state-changing actions: redrive and purge dead letters by id. Each is a POST whose antiforgery token
/// is checked before anything changes; each redirects back to the queue's dead letters with what it did.</summary>
internal static class DeadLetterActions
{
    public static async Task<IResult> RedriveAsync(
        HttpContext http, string queue, IDeadLetterQueue deadLetters, IAntiforgery antiforgery, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (ids, refusal) = await ReadAsync(http, antiforgery, "redrive").ConfigureAwait(false);
        if (refusal is not null)
        {
            return refusal;
        }

        var moved = await deadLetters.RedriveAsync(queue, ids, cancellationToken).ConfigureAwait(false);
        Log(loggers).LogInformation("Dashboard: {User} redrove {Count} dead letters of {Queue}", User(http), moved, queue);
        return Back(http, queue, ("redriven", moved));
    }

    public static async Task<IResult> PurgeAsync(
        HttpContext http, string queue, IDeadLetterQueue deadLetters, IAntiforgery antiforgery, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (ids, refusal) = await ReadAsync(http, antiforgery, "purge").ConfigureAwait(false);
        if (refusal is not null)
        {
            return refusal;
        }

        var form = await http.Request.ReadFormAsync(cancellationToken).ConfigureAwait(false);
        if (!string.Equals(form["confirm"], "yes", StringComparison.Ordinal))
        {
            return DashboardRequest.Page(http, "Purge not confirmed")
                .Element("p", "A purge needs confirmation: use the Purge… button and confirm on the page it opens.", "warning")
                .ToResult(StatusCodes.Status400BadRequest);
        }

        var deleted = await deadLetters.PurgeAsync(queue, ids, cancellationToken).ConfigureAwait(false);
        Log(loggers).LogInformation("Dashboard: {User} purged {Count} dead letters of {Queue}", User(http), deleted, queue);
        return Back(http, queue, ("purged", deleted));
    }

    /// <summary>Checks the antiforgery token and reads the ids (1 to <see cref="DeadLetterQuery.MaxPageSize"/>, never
    /// "all"): a refusal page when either is wrong.</summary>
    private static async Task<(IReadOnlyCollection<string> Ids, IResult? Refusal)> ReadAsync(HttpContext http, IAntiforgery antiforgery, string action)
    {
        if (!http.Request.HasFormContentType)
        {
            return ([], Refuse(http, $"The {action} needs a form post from the dashboard."));
        }

        try
        {
            await antiforgery.ValidateRequestAsync(http).ConfigureAwait(false);
        }
        catch (AntiforgeryValidationException)
        {
            return ([], Refuse(http, $"The {action} was refused: its antiforgery token is missing or invalid. Reload the page and try again."));
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted).ConfigureAwait(false);
        var ids = form["id"].OfType<string>().Where(id => id.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        if (ids.Count == 0 || ids.Count > DeadLetterQuery.MaxPageSize)
        {
            return ([], Refuse(http, $"Choose 1 to {DeadLetterQuery.MaxPageSize} dead letters to {action}."));
        }

        return (ids, null);
    }

    private static IResult Refuse(HttpContext http, string why) =>
        DashboardRequest.Page(http, "Refused").Element("p", why, "warning").ToResult(StatusCodes.Status400BadRequest);

    private static IResult Back(HttpContext http, string queue, (string Name, int Count) done) =>
        Results.Redirect(DashboardRoutes.WithQuery(
            DashboardRequest.Routes(http).DeadLetters(queue), (done.Name, done.Count.ToString(System.Globalization.CultureInfo.InvariantCulture))));

    private static ILogger Log(ILoggerFactory loggers) => loggers.CreateLogger("Bus.Dashboard");

    private static string User(HttpContext http) => http.User.Identity?.Name ?? "anonymous";
}

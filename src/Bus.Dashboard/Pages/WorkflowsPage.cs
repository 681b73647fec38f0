using Bus.Dashboard.Rendering;
using Bus.Workflows;
using Microsoft.AspNetCore.Http;

namespace Bus.Dashboard.Pages;

/// <summary>Lists a workflow's instances (newest first or by id, by status, a page at a time), and shows one instance,
/// found by id or correlation value (<see cref="IWorkflowStatusQuery"/>), with its status, state and history.</summary>
internal static class WorkflowsPage
{
    public static async Task<IResult> RenderAsync(HttpContext http, IWorkflowStatusQuery workflows, CancellationToken cancellationToken)
    {
        var page = DashboardRequest.Page(http, "Workflows");
        var q = http.Request.Query;
        string? Get(string name) => string.IsNullOrWhiteSpace(q[name]) ? null : q[name].ToString().Trim();
        var name = Get("workflow");
        var id = Get("id");
        var correlation = Get("correlation");
        var status = Get("status");
        var order = Get("order");
        page.Raw("<form method=\"get\" class=\"filters\" id=\"find-workflow\">")
            .Input("workflow", "Workflow name", name)
            .Raw("<label>Status <select name=\"status\" id=\"status\">").Option("", "Any", status)
            .Option("Running", "Running", status).Option("Completed", "Completed", status).Option("Failed", "Failed", status).Raw("</select></label> ")
            .Raw("<label>Order <select name=\"order\" id=\"order\">").Option("newest", "Newest first", order).Option("id", "By id", order).Raw("</select></label> ")
            .Input("id", "Instance id (optional)", id)
            .Input("correlation", "or correlation value", correlation)
            .Raw("<button type=\"submit\">Show</button></form>");
        if (name is null)
        {
            return page.Element("p", "Enter a workflow's registered name to list its instances; add an instance id or correlation value to show one.", "muted").ToResult();
        }

        if (id is null && correlation is null)
        {
            return await ListAsync(page, http, workflows, name, status, order, Get("page"), cancellationToken).ConfigureAwait(false);
        }

        var snapshot = id is not null
            ? await workflows.GetAsync(name, id, cancellationToken).ConfigureAwait(false)
            : await workflows.FindAsync(name, correlation!, cancellationToken).ConfigureAwait(false);
        if (snapshot is null)
        {
            return page.Element("p", $"No instance of '{name}' with {(id is not null ? "id '" + id : "correlation value '" + correlation)}'.", "warning")
                .ToResult(StatusCodes.Status404NotFound);
        }

        var instance = snapshot.Instance;
        page.Raw("<p>").Link(DashboardRoutes.WithQuery(page.Routes.Workflows, ("workflow", instance.WorkflowName)), "← Instances of " + instance.WorkflowName, "back-to-list").Raw("</p>");
        page.Raw("<dl id=\"workflow\">")
            .Raw("<dt>Workflow</dt><dd>").Text(instance.WorkflowName).Raw("</dd>")
            .Raw("<dt>Id</dt><dd>").Text(instance.Id).Raw("</dd>")
            .Raw("<dt>Correlation value</dt><dd>").Text(instance.CorrelationValue ?? "–").Raw("</dd>")
            .Raw("<dt>Status</dt><dd id=\"workflow-status\" class=\"status-").Text(instance.Status.ToString()).Raw("\">").Text(instance.Status.ToString()).Raw("</dd>")
            .Raw("<dt>Failure reason</dt><dd>").Text(instance.FailureReason ?? "–").Raw("</dd>")
            .Raw("<dt>Version</dt><dd>").Number(instance.Version).Raw("</dd>")
            .Raw("<dt>Started</dt><dd>").Time(instance.CreatedAt).Raw("</dd>")
            .Raw("<dt>Last saved</dt><dd>").Time(instance.UpdatedAt).Raw("</dd></dl>");
        page.Element("h2", "State").Raw("<pre id=\"workflow-state\">").Text(instance.StateJson).Raw("</pre>");
        page.Element("h2", "History");
        page.Raw("<table id=\"workflow-history\"><thead><tr><th>At</th><th>Message type</th><th>Message id</th><th>Note</th></tr></thead><tbody>");
        foreach (var entry in instance.History)
        {
            page.Raw("<tr><td>").Time(entry.At).Raw("</td><td>").Text(entry.MessageType).Raw("</td><td>").Text(entry.MessageId)
                .Raw("</td><td>").Text(entry.Note ?? string.Empty).Raw("</td></tr>");
        }

        page.Raw("</tbody></table>");
        return page.ToResult();
    }

    /// <summary>A page of the workflow's instances, each linking to its own page.</summary>
    private static async Task<IResult> ListAsync(
        HtmlPage page, HttpContext http, IWorkflowStatusQuery workflows, string name, string? status, string? order, string? token, CancellationToken cancellationToken)
    {
        WorkflowPage found;
        try
        {
            var query = new WorkflowListQuery(name)
            {
                Status = status is null ? null
                    : Enum.TryParse<WorkflowStatus>(status, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) ? parsed
                    : throw new ArgumentException($"'{status}' is not a workflow status: use Running, Completed or Failed."),
                Order = order is null or "newest" ? WorkflowListOrder.NewestFirst
                    : order == "id" ? WorkflowListOrder.ById
                    : throw new ArgumentException($"'{order}' is not an order: use newest or id."),
                PageSize = DashboardRequest.Options(http).PageSize,
                ContinuationToken = token,
            };
            query.Validate();
            found = await workflows.ListAsync(query, cancellationToken).ConfigureAwait(false);
        }
        catch (ArgumentException ex)
        {
            return page.Element("p", ex.Message, "warning").ToResult(StatusCodes.Status400BadRequest);
        }

        page.Element("h2", "Instances of " + name);
        if (found.Instances.Count == 0)
        {
            return page.Element("p", token is null ? $"No instances of '{name}' match." : "No more instances.", "muted").ToResult();
        }

        var routes = page.Routes;
        page.Raw("<table id=\"workflow-instances\"><thead><tr><th>Id</th><th>Correlation value</th><th>Status</th><th class=\"num\">Messages</th><th>Started</th><th>Last saved</th><th>Failure reason</th></tr></thead><tbody>");
        foreach (var instance in found.Instances)
        {
            page.Raw("<tr data-id=\"").Attribute(instance.Id).Raw("\"><td>").Link(routes.WorkflowInstance(name, instance.Id), instance.Id)
                .Raw("</td><td>").Text(instance.CorrelationValue ?? "–")
                .Raw("</td><td class=\"status-").Text(instance.Status.ToString()).Raw("\">").Text(instance.Status.ToString())
                .Raw("</td><td class=\"num\">").Number(instance.History.Count)
                .Raw("</td><td>").Time(instance.CreatedAt)
                .Raw("</td><td>").Time(instance.UpdatedAt)
                .Raw("</td><td>").Text(instance.FailureReason ?? string.Empty)
                .Raw("</td></tr>");
        }

        page.Raw("</tbody></table>");
        if (found.ContinuationToken is not null)
        {
            page.Raw("<p>").Link(
                DashboardRoutes.WithQuery(routes.Workflows, ("workflow", name), ("status", status), ("order", order), ("page", found.ContinuationToken)),
                "Next page →",
                "next-page").Raw("</p>");
        }

        return page.ToResult();
    }
}

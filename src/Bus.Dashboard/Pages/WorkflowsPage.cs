using Bus.Dashboard.Rendering;
using Bus.Workflows;
using Microsoft.AspNetCore.Http;

namespace Bus.Dashboard.Pages;

/// <summary>Looks up a workflow instance by id or correlation value (<see cref="IWorkflowStatusQuery"/>) and shows its
/// status, state and history.</summary>
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
        page.Raw("<form method=\"get\" class=\"filters\" id=\"find-workflow\">")
            .Input("workflow", "Workflow name", name)
            .Input("id", "Instance id", id)
            .Input("correlation", "or correlation value", correlation)
            .Raw("<button type=\"submit\">Find</button></form>");
        if (name is null || (id is null && correlation is null))
        {
            return page.Element("p", "Enter a workflow's registered name and an instance id or correlation value.", "muted").ToResult();
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
}

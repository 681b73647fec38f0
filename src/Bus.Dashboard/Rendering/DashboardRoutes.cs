using System.Globalization;

namespace Bus.Dashboard.Rendering;

/// <summary>The dashboard's URLs under the path it is mapped at, with every value URL-escaped.</summary>
internal sealed class DashboardRoutes(string basePath, string title)
{
    public string Title => title;

    public string Stylesheet => basePath + "/dashboard.css";

    public string Queues => basePath + "/queues";

    public string Workflows => basePath + "/workflows";

    public string Jobs => basePath + "/jobs";

    public string Schedules => basePath + "/schedules";

    public string PauseSchedule(string name) => $"{Schedules}/{Escape(name)}/pause";

    public string ResumeSchedule(string name) => $"{Schedules}/{Escape(name)}/resume";

    public string WorkflowInstance(string workflow, string id) => WithQuery(Workflows, ("workflow", workflow), ("id", id));

    public string DeadLetters(string queue) => $"{basePath}/queues/{Escape(queue)}/dead-letters";

    public string DeadLetter(string queue, string messageId) => $"{DeadLetters(queue)}/{Escape(messageId)}";

    public string Redrive(string queue) => DeadLetters(queue) + "/redrive";

    public string Purge(string queue) => DeadLetters(queue) + "/purge";

    /// <summary>A path with query parameters (empty values left out).</summary>
    public static string WithQuery(string path, params (string Name, string? Value)[] query)
    {
        var parts = query.Where(q => !string.IsNullOrEmpty(q.Value)).Select(q => $"{Escape(q.Name)}={Escape(q.Value!)}").ToList();
        return parts.Count == 0 ? path : path + "?" + string.Join('&', parts);
    }

    public static string Escape(string value) => Uri.EscapeDataString(value);

    public static string Count(int n, string one, string many) => string.Create(CultureInfo.InvariantCulture, $"{n} {(n == 1 ? one : many)}");
}

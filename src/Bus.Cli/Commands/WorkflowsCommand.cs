using System.CommandLine;
using System.Text.Json;
using Bus.Cli.Connection;
using Bus.Cli.Output;
using Bus.Workflows;
using Spectre.Console;

namespace Bus.Cli.Commands;

/// <summary><c>bus workflows list [NAME]</c> and <c>bus workflows show NAME (ID | --correlation VALUE)</c>: workflow
/// instances with their state and history, from the workflow store.</summary>
internal static class WorkflowsCommand
{
    public static Command Create(GlobalOptions global)
    {
        var name = new Argument<string>("workflow") { Description = "The workflow's registered name" };
        var id = new Argument<string?>("id") { Description = "The instance id (or give --correlation)", Arity = ArgumentArity.ZeroOrOne };
        var correlation = new Option<string?>("--correlation") { Description = "Find the instance by its correlation value instead of its id" };
        var show = new Command("show", "Show one workflow instance: status, state and history") { name, id, correlation };
        show.SetAction(async (parse, cancellationToken) =>
        {
            var printer = global.Printer(parse);
            var workflow = parse.GetValue(name)!;
            var (byId, byCorrelation) = (parse.GetValue(id), parse.GetValue(correlation));
            if ((byId is null) == (byCorrelation is null))
            {
                throw new CliException(ExitCodes.Usage, "Give the instance id or --correlation VALUE (one of them).");
            }

            var store = StoreConnectors.Workflows(global.Connection(parse));
            var instance = (byId is not null
                    ? await store.GetAsync(workflow, byId, cancellationToken)
                    : await store.FindAsync(workflow, byCorrelation!, cancellationToken))
                ?? throw new CliException(ExitCodes.NotFound, $"No instance of workflow '{workflow}' with {(byId is not null ? $"id '{byId}'" : $"correlation value '{byCorrelation}'")}.");
            printer.Print(new
            {
                instance.WorkflowName,
                instance.Id,
                instance.CorrelationValue,
                instance.Status,
                instance.Version,
                instance.CreatedAt,
                instance.UpdatedAt,
                instance.FailureReason,
                State = JsonDocument.Parse(instance.StateJson).RootElement,
                instance.History,
            }, () => Render(instance));
            return ExitCodes.Success;
        });
        var listName = new Argument<string?>("workflow") { Description = "Only instances of this workflow (default: every workflow)", Arity = ArgumentArity.ZeroOrOne };
        var status = new Option<WorkflowStatus?>("--status") { Description = "Only instances in this status: Running, Completed, Failed" };
        var limit = new Option<int>("--limit") { Description = "At most this many, most recently updated first (1 to 1000)", DefaultValueFactory = _ => 50 };
        var list = new Command("list", "List workflow instances, most recently updated first (SQLite workflow store)") { listName, status, limit };
        list.SetAction(async (parse, cancellationToken) =>
        {
            var max = parse.GetValue(limit);
            if (max is < 1 or > 1000)
            {
                throw new CliException(ExitCodes.Usage, $"--limit must be between 1 and 1000 (was {max}).");
            }

            var printer = global.Printer(parse);
            var store = StoreConnectors.Workflows(global.Connection(parse)) as Bus.Sqlite.SqliteWorkflowStore
                ?? throw new CliException(ExitCodes.Configuration, "Listing workflows needs the SQLite workflow store (--store-sqlite PATH); other stores can show an instance by id.");
            var instances = await store.ListAsync(parse.GetValue(listName), parse.GetValue(status), max, cancellationToken);
            printer.Print(
                instances.Select(i => new { i.WorkflowName, i.Id, i.CorrelationValue, i.Status, i.Version, i.UpdatedAt, i.FailureReason, Messages = i.History.Count }),
                () =>
                {
                    var table = new Table().AddColumns("Workflow", "Id", "Correlation", "Status", "Messages", "Updated");
                    foreach (var i in instances)
                    {
                        table.AddRow(Markup.Escape(i.WorkflowName), Markup.Escape(i.Id), Markup.Escape(i.CorrelationValue ?? "-"), i.Status.ToString(),
                            i.History.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), Format.Time(i.UpdatedAt));
                    }

                    return instances.Count == 0 ? new Text("No workflow instances match.") : table;
                });
            return ExitCodes.Success;
        });
        return new Command("workflows", "Workflow instances from the workflow store") { list, show };
    }

    private static Grid Render(WorkflowInstance instance)
    {
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        void Row(string label, string? value) => grid.AddRow(new Markup($"[bold]{label}[/]"), new Text(value ?? "-"));
        Row("Workflow", instance.WorkflowName);
        Row("Id", instance.Id);
        Row("Correlation", instance.CorrelationValue);
        Row("Status", instance.Status.ToString());
        Row("Version", instance.Version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Row("Created", Format.Time(instance.CreatedAt));
        Row("Updated", Format.Time(instance.UpdatedAt));
        Row("Failure", instance.FailureReason);
        Row("State", instance.StateJson);
        foreach (var entry in instance.History)
        {
            Row(Format.Time(entry.At), $"{entry.MessageType} {entry.MessageId}{(entry.Note is null ? "" : " - " + entry.Note)}");
        }

        return grid;
    }
}

using System.CommandLine;
using System.Text.Json;
using Bus.Cli.Connection;
using Bus.Cli.Output;
using Bus.Workflows;
using Spectre.Console;

namespace Bus.Cli.Commands;

/// <summary><c>bus workflows list NAME</c> and <c>bus workflows show NAME (ID | --correlation VALUE)</c>: workflow
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
        var list = List(global);
        return new Command("workflows", "Workflow instances from the workflow store") { list, show };
    }

    private static Command List(GlobalOptions global)
    {
        var name = new Argument<string>("workflow") { Description = "The workflow's registered name" };
        var status = new Option<WorkflowStatus?>("--status") { Description = "Only instances in this status: Running, Completed, Failed" };
        var order = new Option<string>("--order") { Description = "newest (most recently started first) or id", DefaultValueFactory = _ => "newest" };
        order.AcceptOnlyFromAmong("newest", "id");
        var limit = new Option<int>("--limit") { Description = $"Instances per page (1 to {WorkflowListQuery.MaxPageSize})", DefaultValueFactory = _ => 50 };
        var next = new Option<string?>("--continue") { Description = "Continue after a previous page: the token it printed" };
        var command = new Command("list", "List the instances of a workflow, newest first or by id, a page at a time") { name, status, order, limit, next };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var pageSize = parse.GetValue(limit);
            if (pageSize is < 1 or > WorkflowListQuery.MaxPageSize)
            {
                throw new CliException(ExitCodes.Usage, $"--limit must be between 1 and {WorkflowListQuery.MaxPageSize} (was {pageSize}).");
            }

            var workflow = parse.GetValue(name)!;
            var query = new WorkflowListQuery(workflow)
            {
                Status = parse.GetValue(status),
                Order = parse.GetValue(order) == "id" ? WorkflowListOrder.ById : WorkflowListOrder.NewestFirst,
                PageSize = pageSize,
                ContinuationToken = parse.GetValue(next),
            };
            try
            {
                query.Validate();
            }
            catch (ArgumentException e)
            {
                throw new CliException(ExitCodes.Usage, e.Message);
            }

            var printer = global.Printer(parse);
            var store = StoreConnectors.Workflows(global.Connection(parse));
            var page = await store.ListAsync(query, cancellationToken);

            printer.Print(
                new
                {
                    Workflow = workflow,
                    Items = page.Instances.Select(i => new { i.Id, i.CorrelationValue, i.Status, i.Version, i.CreatedAt, i.UpdatedAt, i.FailureReason, Messages = i.History.Count }),
                    page.ContinuationToken,
                },
                () =>
                {
                    var table = new Table().AddColumns("Id", "Correlation", "Status", "Messages", "Started", "Updated", "Failure");
                    foreach (var i in page.Instances)
                    {
                        table.AddRow(Markup.Escape(i.Id), Markup.Escape(i.CorrelationValue ?? "-"), i.Status.ToString(),
                            i.History.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), Format.Time(i.CreatedAt), Format.Time(i.UpdatedAt),
                            Markup.Escape(i.FailureReason ?? "-"));
                    }

                    return page.Instances.Count == 0 ? new Text($"No instances of workflow '{workflow}' match.") : table;
                });
            if (!printer.IsJson && page.ContinuationToken is { } token)
            {
                printer.Note($"More: bus workflows list {workflow} --continue {token}{(query.Order == WorkflowListOrder.ById ? " --order id" : "")}");
            }

            return ExitCodes.Success;
        });
        return command;
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

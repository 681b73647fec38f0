using System.CommandLine;
using Bus.Cli.Output;
using Spectre.Console;

namespace Bus.Cli.Commands;

/// <summary><c>bus queues [QUEUE...]</c>: ready, in flight, delayed, dead-lettered and oldest age of every endpoint queue
/// (or the named ones).</summary>
internal static class QueuesCommand
{
    public static Command Create(GlobalOptions global)
    {
        var queues = new Argument<string[]>("queue") { Description = "Queues to show (default: every endpoint queue the transport lists)", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("queues", "Show the endpoint queues: ready, in flight, delayed, dead-lettered and the age of the oldest message") { queues };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var printer = global.Printer(parse);
            await using var transport = global.ConnectTransport(parse);
            var statistics = transport.Statistics
                ?? throw new CliException(ExitCodes.Failure, $"The {transport.Capabilities.Name} transport does not report queue statistics.");
            var names = parse.GetValue(queues) is { Length: > 0 } given ? given : await statistics.ListQueuesAsync(cancellationToken);
            var rows = new List<Transports.QueueStatistics>();
            foreach (var name in names)
            {
                rows.Add(await statistics.GetAsync(name, cancellationToken));
            }

            printer.Print(
                rows.Select(r => new { r.Queue, r.Ready, r.InFlight, r.Delayed, r.DeadLettered, OldestMessageAgeSeconds = r.OldestMessageAge?.TotalSeconds, r.ObservedAt }),
                () =>
                {
                    var table = new Table().AddColumns("Queue", "Ready", "In flight", "Delayed", "Dead-lettered", "Oldest");
                    foreach (var column in table.Columns.Skip(1))
                    {
                        column.RightAligned();
                    }

                    foreach (var r in rows)
                    {
                        table.AddRow(
                            Markup.Escape(r.Queue), Format.Count(r.Ready), Format.Count(r.InFlight), Format.Count(r.Delayed),
                            r.DeadLettered > 0 ? $"[red]{Format.Count(r.DeadLettered)}[/]" : Format.Count(r.DeadLettered), Format.Age(r.OldestMessageAge));
                    }

                    return rows.Count == 0 ? new Text("No endpoint queues.") : table;
                });
            return ExitCodes.Success;
        });
        return command;
    }
}

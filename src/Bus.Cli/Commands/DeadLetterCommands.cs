using System.CommandLine;
using Bus.Cli.Output;
using Bus.Transports;
using Spectre.Console;

namespace Bus.Cli.Commands;

/// <summary><c>bus dlq list|show|redrive|purge QUEUE</c>: the dead letters of an endpoint queue.</summary>
internal static class DeadLetterCommands
{
    private const int RedriveBatch = 100;

    public static Command Create(GlobalOptions global) =>
        new("dlq", "Dead letters of an endpoint queue: list, show, redrive, purge")
        {
            List(global), Show(global), Redrive(global), Purge(global),
        };

    private static Argument<string> QueueArgument() => new("queue") { Description = "The endpoint queue (as `bus queues` lists it)" };

    private static Command List(GlobalOptions global)
    {
        var queue = QueueArgument();
        var filter = new DeadLetterFilter();
        var limit = new Option<int>("--limit") { Description = $"Dead letters per page (1 to {DeadLetterQuery.MaxPageSize})", DefaultValueFactory = _ => 50 };
        var next = new Option<string?>("--continue") { Description = "Continue after a previous page: the token it printed" };
        var command = new Command("list", "List dead letters, newest pages last; filter by type, reason, time and ids") { queue, limit, next };
        AddAll(command, filter.All);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var pageSize = parse.GetValue(limit);
            if (pageSize is < 1 or > DeadLetterQuery.MaxPageSize)
            {
                throw new CliException(ExitCodes.Usage, $"--limit must be between 1 and {DeadLetterQuery.MaxPageSize} (was {pageSize}).");
            }

            var printer = global.Printer(parse);
            var name = parse.GetValue(queue)!;
            await using var transport = global.ConnectTransport(parse);
            var page = await transport.DeadLetters.ListAsync(name, filter.Query(parse, pageSize, parse.GetValue(next)), cancellationToken);
            printer.Print(new { Queue = name, Items = page.Items.Select(Format.Summary), page.ContinuationToken }, () =>
            {
                var table = new Table().AddColumns("Message id", "Type", "Reason", "Attempts", "Failed at");
                foreach (var d in page.Items)
                {
                    table.AddRow(
                        Markup.Escape(d.Message.MessageId ?? "-"), Markup.Escape(Format.TypeOf(d) ?? "-"), Markup.Escape(d.Failure.Reason),
                        d.Failure.Attempts.ToString(System.Globalization.CultureInfo.InvariantCulture), Format.Time(d.Failure.FailedAt));
                }

                return page.Items.Count == 0 ? new Text($"No dead letters in {name} match.") : table;
            });
            if (!printer.IsJson && page.ContinuationToken is { } token)
            {
                printer.Note($"More: bus dlq list {name} --continue {token}");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Show(GlobalOptions global)
    {
        var queue = QueueArgument();
        var id = new Argument<string>("message-id") { Description = "The dead letter's message id" };
        var command = new Command("show", "Show one dead letter: failure, headers and body") { queue, id };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var printer = global.Printer(parse);
            var name = parse.GetValue(queue)!;
            var messageId = parse.GetValue(id)!;
            await using var transport = global.ConnectTransport(parse);
            var page = await transport.DeadLetters.ListAsync(name, new DeadLetterQuery { MessageIds = [messageId], PageSize = 1 }, cancellationToken);
            var letter = page.Items.FirstOrDefault()
                ?? throw new CliException(ExitCodes.NotFound, $"No dead letter with message id '{messageId}' in queue '{name}'.");
            var detail = Format.Detail(letter);
            printer.Print(detail, () =>
            {
                var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
                void Row(string label, string? value) => grid.AddRow(new Markup($"[bold]{label}[/]"), new Text(value ?? "-"));
                Row("Message id", detail.Failure.MessageId);
                Row("Type", detail.Failure.Type);
                Row("Reason", detail.Failure.Reason);
                Row("Exception", detail.Failure.ExceptionType is null ? null : $"{detail.Failure.ExceptionType}: {detail.Failure.ExceptionMessage}");
                Row("Attempts", detail.Failure.Attempts.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Row("Source queue", detail.Failure.SourceQueue);
                Row("Failed at", Format.Time(letter.Failure.FailedAt));
                foreach (var (key, value) in detail.Headers)
                {
                    Row(key, value);
                }

                Row($"Body ({detail.BodyEncoding})", detail.Body);
                if (detail.StackTrace is not null)
                {
                    Row("Stack trace", detail.StackTrace);
                }

                return grid;
            });
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Redrive(GlobalOptions global)
    {
        var queue = QueueArgument();
        var filter = new DeadLetterFilter();
        var all = new Option<bool>("--all") { Description = "Redrive every dead letter of the queue (needed when no filter is given)" };
        var command = new Command("redrive", "Move dead letters back to their queue with their message id and headers") { queue, all };
        AddAll(command, filter.All);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var printer = global.Printer(parse);
            var name = parse.GetValue(queue)!;
            RequireChoice(parse, filter, all, "redrive");
            await using var transport = global.ConnectTransport(parse);
            int moved;
            if (!filter.Any(parse))
            {
                moved = await printer.Error.Status().StartAsync($"Redriving every dead letter of {name}...", _ => transport.DeadLetters.RedriveAsync(name, null, cancellationToken));
            }
            else
            {
                var ids = await filter.MatchingIdsAsync(transport.DeadLetters, name, parse, cancellationToken);
                moved = await InBatchesAsync(printer, ids, $"Redriving {Format.DeadLetters(ids.Count)} of {name}", batch => transport.DeadLetters.RedriveAsync(name, batch, cancellationToken));
            }

            printer.Print(new { Queue = name, Redriven = moved }, () => new Text($"Redrove {Format.DeadLetters(moved)} of {name}."));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Purge(GlobalOptions global)
    {
        var queue = QueueArgument();
        var filter = new DeadLetterFilter();
        var all = new Option<bool>("--all") { Description = "Purge every dead letter of the queue (needed when no filter is given)" };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation (for scripts)" };
        var command = new Command("purge", "Delete dead letters for good, after a confirmation (--yes to skip it)") { queue, all, yes };
        AddAll(command, filter.All);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var printer = global.Printer(parse);
            var name = parse.GetValue(queue)!;
            RequireChoice(parse, filter, all, "purge");
            await using var transport = global.ConnectTransport(parse);
            IReadOnlyList<string>? ids = filter.Any(parse) ? await filter.MatchingIdsAsync(transport.DeadLetters, name, parse, cancellationToken) : null;
            var count = ids?.Count ?? (transport.Statistics is { } statistics
                ? (int)(await statistics.GetAsync(name, cancellationToken)).DeadLettered
                : (await filter.MatchingIdsAsync(transport.DeadLetters, name, parse, cancellationToken)).Count);
            if (count == 0)
            {
                printer.Print(new { Queue = name, Purged = 0 }, () => new Text($"No dead letters in {name} match; nothing purged."));
                return ExitCodes.Success;
            }

            if (!parse.GetValue(yes) && !printer.Confirm($"Delete {Format.DeadLetters(count)} of {name} for good?"))
            {
                printer.Note("Nothing purged. Pass --yes to purge without being asked.");
                return ExitCodes.NotConfirmed;
            }

            var purged = ids is null
                ? await transport.DeadLetters.PurgeAsync(name, null, cancellationToken)
                : await InBatchesAsync(printer, ids, $"Purging {Format.DeadLetters(ids.Count)} of {name}", batch => transport.DeadLetters.PurgeAsync(name, batch, cancellationToken));
            printer.Print(new { Queue = name, Purged = purged }, () => new Text($"Purged {Format.DeadLetters(purged)} of {name}."));
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Runs <paramref name="act"/> over the ids a batch at a time, with a progress bar (on standard error) when
    /// there is more than one batch; without a terminal, a line per batch.</summary>
    private static async Task<int> InBatchesAsync(Printer printer, IReadOnlyList<string> ids, string title, Func<IReadOnlyCollection<string>, Task<int>> act)
    {
        var batches = ids.Chunk(RedriveBatch).ToList();
        if (batches.Count <= 1)
        {
            return batches.Count == 0 ? 0 : await act(batches[0]);
        }

        var done = 0;
        if (!printer.Error.Profile.Capabilities.Interactive)
        {
            // No terminal to draw a bar on (a script, a log): a line per batch on standard error instead.
            var handled = 0;
            foreach (var batch in batches)
            {
                done += await act(batch);
                handled += batch.Length;
                printer.Note($"{title}: {handled}/{ids.Count}");
            }

            return done;
        }

        await printer.Error.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async progress =>
            {
                var task = progress.AddTask(Markup.Escape(title), maxValue: ids.Count);
                foreach (var batch in batches)
                {
                    done += await act(batch);
                    task.Increment(batch.Length);
                }
            });
        return done;
    }

    private static void RequireChoice(ParseResult parse, DeadLetterFilter filter, Option<bool> all, string verb)
    {
        var any = filter.Any(parse);
        if (!any && !parse.GetValue(all))
        {
            throw new CliException(ExitCodes.Usage, $"Say which dead letters to {verb}: --id, --type, --reason, --since or --until, or --all for every one.");
        }

        if (any && parse.GetValue(all))
        {
            throw new CliException(ExitCodes.Usage, $"--all cannot be combined with filters: {verb} either the filtered dead letters or all of them.");
        }
    }

    private static void AddAll(Command command, IEnumerable<Option> options)
    {
        foreach (var option in options)
        {
            command.Options.Add(option);
        }
    }
}

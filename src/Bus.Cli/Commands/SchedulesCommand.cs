using System.CommandLine;
using Bus.Cli.Connection;
using Bus.Cli.Output;
using Bus.Schedules;
using Cronos;
using Spectre.Console;

namespace Bus.Cli.Commands;

/// <summary>
/// <c>bus schedules list|pause|resume|remove</c>: recurring schedules as the schedule store records them. An endpoint records
/// each of its schedules' definitions (message type, cron expression, time zone, missed-tick policy) in the store when it
/// starts, so the tool reads everything from the store and works out the next firing from the stored expression. A
/// schedule removed from the code keeps its record (its registration time shows it is stale) until <c>remove</c> deletes it.
/// </summary>
internal static class SchedulesCommand
{
    public static Command Create(GlobalOptions global)
    {
        var names = new Argument<string[]>("schedule") { Description = "Only these schedules (default: every schedule in the store)", Arity = ArgumentArity.ZeroOrMore };
        var list = new Command("list", "List schedules: message type, cron, zone, next and last firing, paused, when an endpoint last registered it") { names };
        list.SetAction(async (parse, cancellationToken) =>
        {
            var printer = global.Printer(parse);
            var store = StoreConnectors.Schedules(global.Connection(parse));
            var records = await store.ListAsync(cancellationToken);
            var wanted = parse.GetValue(names) ?? [];
            if (wanted.Length > 0)
            {
                var unknown = wanted.Where(n => records.All(r => r.Name != n)).ToList();
                if (unknown.Count > 0)
                {
                    throw new CliException(ExitCodes.NotFound, $"No schedule '{unknown[0]}' in the store. {Known(records)}");
                }

                records = records.Where(r => wanted.Contains(r.Name, StringComparer.Ordinal)).ToList();
            }

            var now = DateTimeOffset.UtcNow;
            var rows = records.Select(r => Row(r, now, printer)).ToList();
            // The table leaves out when the last tick was fired (in the JSON output) to fit 160 columns.
            printer.Print(rows, () =>
            {
                if (rows.Count == 0)
                {
                    return new Text("No schedules in the store: an endpoint records its schedules when it starts.");
                }

                var table = new Table().AddColumns("Schedule", "Message type", "Cron", "Zone", "Next firing", "Last firing", "Paused", "Registered");
                foreach (var r in rows)
                {
                    table.AddRow(Markup.Escape(r.Name), Markup.Escape(r.MessageType ?? "-"), Markup.Escape(r.Cron ?? "-"), Markup.Escape(r.TimeZone ?? "-"),
                        Time(r.NextFiring), Time(r.LastFiring), r.Paused ? "[yellow]paused[/]" : "no", Time(r.RegisteredAt));
                }

                return table;
            });
            return ExitCodes.Success;
        });
        return new Command("schedules", "Recurring schedules from the schedule store: list, pause, resume, remove")
        {
            list, SetPaused(global, "pause", paused: true), SetPaused(global, "resume", paused: false), Remove(global),
        };
    }

    private static Command SetPaused(GlobalOptions global, string verb, bool paused)
    {
        var name = new Argument<string>("schedule") { Description = "The schedule's name" };
        var command = new Command(verb, paused
            ? "Pause a schedule: no tick fires, on any host sharing the store, until it is resumed"
            : "Resume a paused schedule: it fires again from its next tick (ticks during the pause never fire)")
        {
            name,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var printer = global.Printer(parse);
            var store = StoreConnectors.Schedules(global.Connection(parse));
            var schedule = parse.GetValue(name)!;
            if (await store.GetAsync(schedule, cancellationToken) is null)
            {
                // Pausing an unknown name would create a record for a schedule that does not exist (a typo stays unnoticed).
                throw new CliException(ExitCodes.NotFound, $"No schedule '{schedule}' in the store. {Known(await store.ListAsync(cancellationToken))}");
            }

            await store.SetPausedAsync(schedule, paused, DateTimeOffset.UtcNow, cancellationToken);
            var row = Row((await store.GetAsync(schedule, cancellationToken))!, DateTimeOffset.UtcNow, printer);
            printer.Print(row, () => new Text(paused ? $"Paused {schedule}." : $"Resumed {schedule}; next firing {Time(row.NextFiring)}."));
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// <c>bus schedules remove NAME</c>: deletes the record of a schedule that is gone from the code, after showing it and
    /// asking (<c>--yes</c> for scripts), like <c>bus dlq purge</c>. The tool cannot know whether an endpoint still runs the
    /// schedule; one that does goes on firing it without the pause and records it again when it starts, so removing a
    /// live schedule loses only its pause and last firing. The prompt says so.
    /// </summary>
    private static Command Remove(GlobalOptions global)
    {
        var name = new Argument<string>("schedule") { Description = "The schedule's name (as `bus schedules list` shows it)" };
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not ask for confirmation (for scripts)" };
        var command = new Command(
            "remove",
            "Delete the record of a schedule removed from the code (definition, pause, last firing), after a confirmation (--yes to skip it)")
        {
            name, yes,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var printer = global.Printer(parse);
            var store = StoreConnectors.Schedules(global.Connection(parse));
            var schedule = parse.GetValue(name)!;
            var state = await store.GetAsync(schedule, cancellationToken)
                ?? throw new CliException(ExitCodes.NotFound, $"No schedule '{schedule}' in the store. {Known(await store.ListAsync(cancellationToken))}");
            var row = Row(state, DateTimeOffset.UtcNow, printer);
            if (!parse.GetValue(yes))
            {
                printer.Note(Describe(row));
                printer.Note("An endpoint that still has this schedule in its code goes on firing it (the pause and last firing are lost) and records it again when it starts.");
                if (!printer.Confirm($"Remove schedule {schedule} from the store?"))
                {
                    printer.Note("Nothing removed. Pass --yes to remove without being asked.");
                    return ExitCodes.NotConfirmed;
                }
            }

            if (!await store.RemoveAsync(schedule, cancellationToken))
            {
                throw new CliException(ExitCodes.NotFound, $"No schedule '{schedule}' in the store: it was removed meanwhile.");
            }

            printer.Print(new { Removed = row }, () => new Text($"Removed {schedule}."));
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>One line saying what a record holds, for the confirmation.</summary>
    private static string Describe(ScheduleRow row)
    {
        var defined = row.Cron is null
            ? "never registered by an endpoint"
            : $"sends {row.MessageType} at '{row.Cron}' ({row.TimeZone}), last registered by an endpoint {Time(row.RegisteredAt)}";
        return $"Schedule {row.Name}: {defined}; last firing {Time(row.LastFiring)}{(row.Paused ? "; paused" : "")}.";
    }

    private static string Known(IReadOnlyList<ScheduleState> records) =>
        records.Count == 0
            ? "The store has no schedules: an endpoint records its schedules when it starts."
            : $"The store has: {string.Join(", ", records.Select(r => r.Name))}.";

    private static ScheduleRow Row(ScheduleState state, DateTimeOffset now, Printer printer)
    {
        var definition = state.Definition;
        var next = state.Paused || definition is null ? null : Next(state.Name, definition, now, printer);
        return new ScheduleRow(
            state.Name, definition?.MessageType, definition?.Cron, definition?.TimeZone, definition?.Missed, next, state.LastTick, state.LastFiredAt,
            state.Paused, definition?.RegisteredAt);
    }

    /// <summary>The next tick of the stored expression in the stored zone, UTC; null (with a note) when this machine
    /// cannot read them.</summary>
    private static DateTimeOffset? Next(string name, ScheduleDefinition definition, DateTimeOffset now, Printer printer)
    {
        var cron = definition.Cron.Trim();
        try
        {
            var format = cron.StartsWith('@') || cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length != 6 ? CronFormat.Standard : CronFormat.IncludeSeconds;
            var zone = TimeZoneInfo.FindSystemTimeZoneById(definition.TimeZone);
            return CronExpression.Parse(cron, format).GetNextOccurrence(now, zone, inclusive: false)?.ToUniversalTime();
        }
        catch (Exception e) when (e is CronFormatException or TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            printer.Note($"Schedule {name}: the next firing is not shown ({e.Message}).");
            return null;
        }
    }

    private static string Time(DateTimeOffset? at) => at is { } value ? Format.Time(value) : "-";

    /// <summary>A schedule as printed (and its JSON shape). The definition's fields are null for a record no endpoint
    /// registered (made by a claim or a pause alone).</summary>
    internal sealed record ScheduleRow(
        string Name, string? MessageType, string? Cron, string? TimeZone, MissedTicks? Missed, DateTimeOffset? NextFiring, DateTimeOffset? LastFiring,
        DateTimeOffset? LastFiredAt, bool Paused, DateTimeOffset? RegisteredAt);
}

using System.CommandLine;
using Bus.Cli.Connection;
using Bus.Cli.Output;
using Bus.Schedules;
using Cronos;
using Microsoft.Extensions.Configuration;
using Spectre.Console;

namespace Bus.Cli.Commands;

/// <summary>
/// <c>bus schedules list|pause|resume</c>: recurring schedules as the schedule store records them (last firing, paused),
/// with their cron expression, time zone and next firing from the settings. The store knows schedules by name only; the
/// endpoint's code holds their cron expressions, so the tool reads them from <c>Bus:Schedules:NAME:Cron</c> and
/// <c>Bus:Schedules:NAME:TimeZone</c> (an IANA or Windows zone id, default UTC) of the settings.
/// </summary>
internal static class SchedulesCommand
{
    public static Command Create(GlobalOptions global)
    {
        var names = new Argument<string[]>("schedule") { Description = "Schedules to list besides those under Bus:Schedules in the settings", Arity = ArgumentArity.ZeroOrMore };
        var list = new Command("list", "List schedules: cron, zone, next and last firing, paused") { names };
        list.SetAction(async (parse, cancellationToken) =>
        {
            var printer = global.Printer(parse);
            var bus = global.Connection(parse);
            var definitions = Definitions(bus);
            var wanted = definitions.Keys.Concat(parse.GetValue(names) ?? []).Distinct(StringComparer.Ordinal).ToList();
            if (wanted.Count == 0)
            {
                throw new CliException(ExitCodes.Configuration,
                    "The tool knows schedules by name: put them under \"Schedules\" in the \"Bus\" section of the settings " +
                    "(\"Schedules\": { \"nightly-report\": { \"Cron\": \"0 2 * * *\", \"TimeZone\": \"Europe/Oslo\" } }), or pass their names.");
            }

            var store = StoreConnectors.Schedules(bus);
            var rows = new List<ScheduleRow>();
            foreach (var name in wanted)
            {
                var state = await store.GetAsync(name, cancellationToken);
                var definition = definitions.GetValueOrDefault(name);
                if (state is null && definition is null)
                {
                    throw new CliException(ExitCodes.NotFound, $"No schedule '{name}': the store has no record of it and the settings do not define it.");
                }

                rows.Add(Row(name, definition, state, DateTimeOffset.UtcNow));
            }

            printer.Print(rows, () =>
            {
                var table = new Table().AddColumns("Schedule", "Cron", "Zone", "Next firing", "Last firing", "Fired at", "Paused");
                foreach (var r in rows)
                {
                    table.AddRow(Markup.Escape(r.Name), Markup.Escape(r.Cron ?? "-"), Markup.Escape(r.TimeZone ?? "-"), Time(r.NextFiring), Time(r.LastFiring),
                        Time(r.LastFiredAt), r.Paused ? "[yellow]paused[/]" : "no");
                }

                return table;
            });
            return ExitCodes.Success;
        });
        return new Command("schedules", "Recurring schedules from the schedule store: list, pause, resume")
        {
            list, SetPaused(global, "pause", paused: true), SetPaused(global, "resume", paused: false),
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
            var bus = global.Connection(parse);
            var schedule = parse.GetValue(name)!;
            var definitions = Definitions(bus);
            var store = StoreConnectors.Schedules(bus);
            var definition = definitions.GetValueOrDefault(schedule);
            if (definition is null && await store.GetAsync(schedule, cancellationToken) is null)
            {
                // Pausing an unknown name would create a record for a schedule that does not exist (a typo stays unnoticed).
                throw new CliException(ExitCodes.NotFound,
                    $"No schedule '{schedule}': the store has no record of it and the settings do not define it (Bus:Schedules:{schedule}:Cron).");
            }

            await store.SetPausedAsync(schedule, paused, DateTimeOffset.UtcNow, cancellationToken);
            var row = Row(schedule, definition, await store.GetAsync(schedule, cancellationToken), DateTimeOffset.UtcNow);
            printer.Print(row, () => new Text(paused ? $"Paused {schedule}." : $"Resumed {schedule}; next firing {Time(row.NextFiring)}."));
            return ExitCodes.Success;
        });
        return command;
    }

    private static ScheduleRow Row(string name, Definition? definition, ScheduleState? state, DateTimeOffset now)
    {
        var paused = state?.Paused == true;
        var next = paused || definition is null
            ? null
            : definition.Expression.GetNextOccurrence(now, definition.Zone, inclusive: false)?.ToUniversalTime();
        return new ScheduleRow(name, definition?.Cron, definition?.Zone.Id, next, state?.LastTick, state?.LastFiredAt, paused);
    }

    private static Dictionary<string, Definition> Definitions(IConfigurationSection bus)
    {
        var definitions = new Dictionary<string, Definition>(StringComparer.Ordinal);
        foreach (var section in bus.GetSection("Schedules").GetChildren())
        {
            var cron = section["Cron"];
            if (string.IsNullOrWhiteSpace(cron))
            {
                throw new CliException(ExitCodes.Configuration, $"Bus:Schedules:{section.Key} has no Cron; give its cron expression, e.g. \"0 2 * * *\".");
            }

            CronExpression expression;
            try
            {
                var format = cron.Trim().StartsWith('@') || cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length != 6 ? CronFormat.Standard : CronFormat.IncludeSeconds;
                expression = CronExpression.Parse(cron.Trim(), format);
            }
            catch (CronFormatException e)
            {
                throw new CliException(ExitCodes.Configuration, $"Bus:Schedules:{section.Key}:Cron '{cron}' does not read ({e.Message}). Use five fields (minute hour day-of-month month day-of-week) or six with seconds first.");
            }

            var zoneId = string.IsNullOrWhiteSpace(section["TimeZone"]) ? "UTC" : section["TimeZone"]!.Trim();
            TimeZoneInfo zone;
            try
            {
                zone = TimeZoneInfo.FindSystemTimeZoneById(zoneId);
            }
            catch (TimeZoneNotFoundException)
            {
                throw new CliException(ExitCodes.Configuration, $"Bus:Schedules:{section.Key}:TimeZone '{zoneId}' is not a time zone this machine knows; use an IANA id such as \"Europe/Oslo\".");
            }

            definitions[section.Key] = new Definition(cron.Trim(), expression, zone);
        }

        return definitions;
    }

    private static string Time(DateTimeOffset? at) => at is { } value ? Format.Time(value) : "-";

    private sealed record Definition(string Cron, CronExpression Expression, TimeZoneInfo Zone);

    /// <summary>A schedule as printed (and its JSON shape).</summary>
    internal sealed record ScheduleRow(
        string Name, string? Cron, string? TimeZone, DateTimeOffset? NextFiring, DateTimeOffset? LastFiring, DateTimeOffset? LastFiredAt, bool Paused);
}

using System.CommandLine;
using System.Globalization;
using Bus.Cli.Connection;
using Bus.Cli.Output;
using Bus.Jobs;
using Spectre.Console;

namespace Bus.Cli.Commands;

/// <summary><c>bus jobs [list|show ID]</c>: job statuses (progress, state, result) from the job status store.</summary>
internal static class JobsCommand
{
    public static Command Create(GlobalOptions global)
    {
        var state = new Option<JobState>("--state") { Description = "Jobs in this state: Running, Completed, Failed, Released, DeadLettered", DefaultValueFactory = _ => JobState.Running };
        var limit = new Option<int>("--limit") { Description = "At most this many, most recently updated first (1 to 1000)", DefaultValueFactory = _ => 50 };
        var list = new Command("list", "List jobs in a state with their progress (the default of `bus jobs`)") { state, limit };
        list.SetAction((parse, ct) => ListAsync(global, parse, state, limit, ct));

        var id = new Argument<string>("message-id") { Description = "The job's message id" };
        var show = new Command("show", "Show one job: state, progress and result") { id };
        show.SetAction(async (parse, cancellationToken) =>
        {
            var printer = global.Printer(parse);
            var messageId = parse.GetValue(id)!;
            var job = await StoreConnectors.Jobs(global.Connection(parse)).GetAsync(messageId, cancellationToken)
                ?? throw new CliException(ExitCodes.NotFound, $"No job with message id '{messageId}' in the job status store.");
            printer.Print(job, () => Table([job]));
            return ExitCodes.Success;
        });

        var jobs = new Command("jobs", "Jobs (messages being handled) with their progress, from the job status store") { list, show };
        jobs.Options.Add(state);
        jobs.Options.Add(limit);
        jobs.SetAction((parse, ct) => ListAsync(global, parse, state, limit, ct));
        return jobs;
    }

    private static async Task<int> ListAsync(GlobalOptions global, ParseResult parse, Option<JobState> state, Option<int> limit, CancellationToken cancellationToken)
    {
        var max = parse.GetValue(limit);
        if (max is < 1 or > 1000)
        {
            throw new CliException(ExitCodes.Usage, $"--limit must be between 1 and 1000 (was {max}).");
        }

        var printer = global.Printer(parse);
        var jobs = await StoreConnectors.Jobs(global.Connection(parse)).ListAsync(parse.GetValue(state), max, cancellationToken);
        printer.Print(jobs, () => jobs.Count == 0 ? new Text($"No {parse.GetValue(state)} jobs.") : Table(jobs));
        return ExitCodes.Success;
    }

    private static Table Table(IEnumerable<JobStatus> jobs)
    {
        var table = new Table().AddColumns("Message id", "Type", "State", "Progress", "Attempt", "Updated");
        foreach (var j in jobs)
        {
            var progress = j.Total > 0
                ? string.Create(CultureInfo.InvariantCulture, $"{j.Done:N0}/{j.Total:N0} ({j.Fraction * 100:0}%)")
                : "-";
            table.AddRow(Markup.Escape(j.MessageId), Markup.Escape(j.MessageType), j.State.ToString(), progress,
                j.Attempt.ToString(CultureInfo.InvariantCulture), Format.Time(j.UpdatedAt));
        }

        return table;
    }
}

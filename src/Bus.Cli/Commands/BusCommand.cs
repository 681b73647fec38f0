using System.CommandLine;
using System.CommandLine.Help;
using Bus.Cli.Connection;

namespace Bus.Cli.Commands;

/// <summary>The root command, <c>bus</c>, with its subcommands and the options they share.</summary>
internal static class BusCommand
{
    public static Command Create()
    {
        var global = new GlobalOptions();

        // A command named "bus" rather than a RootCommand, which takes its name from the file run (Bus.Cli.dll).
        var root = new Command(
            "bus",
            "Operate a Bus endpoint: queue statistics, dead letters, workflows, jobs and schedules.\n" +
            $"Connects with the endpoint's transport settings: a JSON file (--settings, else {ConnectionSettings.DefaultFile}), environment variables (BUS__TRANSPORT, BUS__SQLITE__DATABASEPATH, BUS__POSTGRESQL__CONNECTIONSTRING, BUS__SQS__REGION, ...) or flags.\n" +
            "Exit codes: 0 done, 1 transport or store failed, 2 bad command line, 3 bad or missing settings, 4 not found, 5 not confirmed.")
        {
            QueuesCommand.Create(global),
            DeadLetterCommands.Create(global),
            WorkflowsCommand.Create(global),
            JobsCommand.Create(global),
            SchedulesCommand.Create(global),
        };
        root.Options.Add(new HelpOption());
        root.Options.Add(new VersionOption());
        foreach (var option in global.All)
        {
            root.Options.Add(option);
        }

        return root;
    }
}

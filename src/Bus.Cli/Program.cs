using System.CommandLine;
using System.CommandLine.Help;
using Bus.Cli;
using Bus.Cli.Commands;

var root = BusCommand.Create();
var parse = root.Parse(args);
if (parse.Errors.Count > 0 && parse.Action is not HelpAction)
{
    foreach (var error in parse.Errors)
    {
        Console.Error.WriteLine($"bus: {error.Message}");
    }

    var path = new Stack<string>();
    for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
    {
        path.Push(result.Command.Name);
    }

    Console.Error.WriteLine($"Run '{string.Join(' ', path)} --help' for usage.");
    return ExitCodes.Usage;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

try
{
    return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }, cancel.Token);
}
catch (CliException e)
{
    Console.Error.WriteLine($"bus: {e.Message}");
    return e.ExitCode;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"bus: {e.Message}");
    return ExitCodes.Usage;
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    Console.Error.WriteLine("bus: cancelled.");
    return ExitCodes.Failure;
}
catch (Exception e)
{
    Console.Error.WriteLine($"bus: {e.GetType().Name}: {e.Message}");
    return ExitCodes.Failure;
}

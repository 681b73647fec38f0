using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Bus.Cli.Output;

/// <summary>Prints results on standard output as a table (Spectre.Console) or as JSON (camelCase, one document per
/// command); messages for people, prompts and progress go to standard error, so JSON output stays clean.</summary>
internal sealed class Printer
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // read by people and scripts, not put in HTML
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public Printer(bool json)
    {
        IsJson = json;
        Out = Create(Console.Out, Console.IsOutputRedirected);
        Error = Create(Console.Error, Console.IsErrorRedirected);
    }

    public bool IsJson { get; }

    /// <summary>Standard output, for tables.</summary>
    public IAnsiConsole Out { get; }

    /// <summary>Standard error, for prompts, progress and notes.</summary>
    public IAnsiConsole Error { get; }

    /// <summary>Prints <paramref name="value"/> as JSON when so asked, else renders <paramref name="table"/>.</summary>
    public void Print<T>(T value, Func<IRenderable> table)
    {
        if (IsJson)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(value, Json));
        }
        else
        {
            var rendered = table();
            Out.Write(rendered);
            if (rendered is Text)
            {
                Out.WriteLine();
            }
        }
    }

    /// <summary>A note for people (standard error, not in JSON output).</summary>
    public void Note(string text) => Error.MarkupLine(Markup.Escape(text));

    /// <summary>Asks <paramref name="question"/> on standard error and reads the answer from standard input (a prompt on a
    /// terminal, else a <c>[y/N]</c> line); no answer (end of input) is no. Destructive commands ask this unless given
    /// <c>--yes</c>.</summary>
    public bool Confirm(string question)
    {
        if (!Console.IsInputRedirected && Error.Profile.Capabilities.Interactive)
        {
            return Error.Confirm(question, defaultValue: false);
        }

        Console.Error.Write($"{question} [y/N] ");
        var answer = Console.In.ReadLine()?.Trim();
        Console.Error.WriteLine();
        return answer is not null && (answer.Equals("y", StringComparison.OrdinalIgnoreCase) || answer.Equals("yes", StringComparison.OrdinalIgnoreCase));
    }

    private static IAnsiConsole Create(TextWriter writer, bool redirected)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = redirected ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = redirected ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Interactive = redirected ? InteractionSupport.No : InteractionSupport.Detect,
        });
        if (redirected)
        {
            console.Profile.Width = 160;
        }

        return console;
    }
}

using System.Reflection;

namespace VideoEncoding;

/// <summary>
/// The "container" the workflow launches: this same program in encode mode (<c>VideoEncoding encode FILE</c>), run as a
/// local process by <see cref="Bus.Workflows.ContainerTasks.LocalProcessTaskLauncher"/>. On ECS it would be the
/// encoder image. It fails deterministically so the sample shows every path: a file named "corrupt*" always fails
/// (exit 65), "keynote*" runs out of memory on its first run (exit 137), anything else succeeds.
/// </summary>
public static class Encoder
{
    /// <summary>The environment variable that carries the run number (1, 2, ...).</summary>
    public const string RunVariable = "ENCODER_RUN";

    /// <summary>The command line that runs this program in encode mode for <paramref name="fileName"/>.</summary>
    public static IReadOnlyList<string> Command(string fileName)
    {
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("Cannot find this program's path.");
        return Path.GetFileNameWithoutExtension(host) == "dotnet"
            ? [host, Assembly.GetEntryAssembly()!.Location, "encode", fileName]
            : [host, "encode", fileName];
    }

    /// <summary>Encodes (pretends to) and returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var file = args.Length > 0 ? args[0] : throw new ArgumentException("Usage: VideoEncoding encode FILE");
        var run = int.TryParse(Environment.GetEnvironmentVariable(RunVariable), out var n) ? n : 1;
        Console.WriteLine($"encoding {file} (run {run})");
        await Task.Delay(TimeSpan.FromMilliseconds(700));
        if (file.StartsWith("corrupt", StringComparison.OrdinalIgnoreCase))
        {
            await Console.Error.WriteLineAsync("moov atom not found: the file is not a valid video");
            return 65;
        }

        if (file.StartsWith("keynote", StringComparison.OrdinalIgnoreCase) && run == 1)
        {
            await Console.Error.WriteLineAsync("out of memory");
            return 137;
        }

        Console.WriteLine($"wrote {Path.ChangeExtension(file, ".mp4")}");
        return 0;
    }
}

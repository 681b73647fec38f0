using System.Diagnostics;
using System.Reflection;
using System.Text.Json;

namespace Bus.Cli.Tests;

/// <summary>Runs the built <c>bus</c> tool (Bus.Cli.dll) as a process with <c>dotnet exec</c>, as a user would.</summary>
public static class BusTool
{
    private static readonly string ToolPath = Path.GetFullPath(typeof(BusTool).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "BusCliPath").Value!);

    public static async Task<ToolRun> RunAsync(IEnumerable<string> args, string? input = null, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        Assert.True(File.Exists(ToolPath), $"The tool was not built at {ToolPath}.");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(ToolPath);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
        }

        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return new ToolRun(process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>What a run of the tool printed and how it exited.</summary>
public sealed record ToolRun(int ExitCode, string Out, string Error)
{
    public JsonElement Json()
    {
        try
        {
            return JsonDocument.Parse(Out).RootElement;
        }
        catch (JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"Not JSON ({e.Message}). stdout: {Out} stderr: {Error}");
        }
    }

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Out}\nstderr:\n{Error}";
}

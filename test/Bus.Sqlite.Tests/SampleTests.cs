using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Bus.Sqlite.Tests;

/// <summary>
/// Runs the samples as a user would (their built programs, each on its own SQLite file) and checks what they print:
/// the outcomes of VideoEncoding (also on SQS against the local emulator), OrderFulfillment's compensation and status,
/// and MonthlyClosing stopped with Ctrl+C (SIGINT) mid-run, then resumed without redoing closed accounts.
/// </summary>
[Collection(CrashTestCollection.Name)]
public sealed partial class SampleTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);
    private readonly string _folder = Directory.CreateTempSubdirectory("bus-samples-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS to clean; the folder is under the temp path.
        }
    }

    [Fact]
    public async Task VideoEncoding_encodes_reruns_and_gives_up_as_its_timeline_says()
    {
        var run = await RunAsync("VideoEncoding", "--db", Path.Combine(_folder, "video.db"));

        AssertVideoOutcomes(run);
    }

    [Fact]
    public async Task VideoEncoding_runs_on_SQS_with_its_switch()
    {
        var run = await RunAsync("VideoEncoding", [.. SqsSwitch, "--db", Path.Combine(_folder, "video-sqs.db")], interruptAfter: null);

        Assert.Contains("transport: SQS + SNS", run.Output);
        AssertVideoOutcomes(run);
    }

    [Fact]
    public async Task OrderFulfillment_fulfils_one_order_compensates_a_declined_payment_and_rejects_one_out_of_stock()
    {
        var run = await RunAsync("OrderFulfillment", "--db", Path.Combine(_folder, "orders.db"));

        Assert.Equal(0, run.ExitCode);
        Assert.Matches(@"\S+-1\s+Completed\s+stage: confirmed", run.Output);
        Assert.Matches(@"\S+-2\s+Failed\s+stage: cancelled\s+\(payment declined; reservation R-\S+ released\)", run.Output);
        Assert.Matches(@"\S+-3\s+Failed\s+stage: rejected", run.Output);
        // The declined order's history holds both the decline and the compensation (their order depends on which
        // handler of the two events finished first).
        var declinedHistory = Regex.Match(run.Output, @"\S+-2\s+Failed[^\n]*\n\s+history: ([^\n]*)").Groups[1].Value;
        Assert.Contains("payment-declined", declinedHistory);
        Assert.Contains("reservation-released", declinedHistory);
        Assert.True(Regex.Matches(run.Output, @"-1: confirmation sent").Count == 1, $"a memoised step runs once; the run printed:{Environment.NewLine}{run.Output}");
    }

    [Fact]
    public async Task OrderFulfillment_runs_on_SQS_with_its_switch()
    {
        var run = await RunAsync("OrderFulfillment", [.. SqsSwitch, "--db", Path.Combine(_folder, "orders-sqs.db")], interruptAfter: null);

        Assert.Contains("transport: SQS + SNS", run.Output);
        Assert.Equal(0, run.ExitCode);
        Assert.Matches(@"\S+-1\s+Completed\s+stage: confirmed", run.Output);
        Assert.Matches(@"\S+-2\s+Failed\s+stage: cancelled", run.Output);
        Assert.Matches(@"\S+-3\s+Failed\s+stage: rejected", run.Output);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task MonthlyClosing_stopped_with_ctrl_c_resumes_skipping_the_accounts_it_closed(bool onSqs)
    {
        var db = Path.Combine(_folder, onSqs ? "closing-sqs.db" : "closing.db");
        string[] transport = onSqs ? SqsSwitch : [];
        var first = await RunAsync("MonthlyClosing", [.. transport, "--accounts", "12", "--db", db], interruptAfter: "account 003 closed");
        var closedFirst = ClosedAccounts().Matches(first.Output).Count;
        Assert.InRange(closedFirst, 3, 11);
        Assert.DoesNotContain("MonthClosed", first.Output);

        var second = await RunAsync("MonthlyClosing", [.. transport, "--accounts", "12", "--db", db], interruptAfter: null);

        Assert.Equal(0, second.ExitCode);
        Assert.Contains($"skipped accounts 1-{closedFirst}", second.Output);
        Assert.Equal(12 - closedFirst, ClosedAccounts().Matches(second.Output).Count);
        Assert.Contains($"({12 - closedFirst} closed in this run, {closedFirst} in earlier runs)", second.Output);
    }

    /// <summary>The samples' switch to SQS + SNS on the local emulator the test command starts.</summary>
    private static string[] SqsSwitch =>
        ["--transport", "sqs", "--sqs-endpoint", Environment.GetEnvironmentVariable("BUS_SQS_ENDPOINT") ?? "http://127.0.0.1:4566"];

    private static void AssertVideoOutcomes(SampleRun run)
    {
        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Matches(@"VideoEncoded intro-\S+ after 1 run\(s\)", run.Output);
        Assert.Matches(@"VideoEncoded keynote-\S+ after 2 run\(s\)", run.Output);
        Assert.Matches(@"VideoEncodingFailed corrupt-\S+: run 3 of 3 exited with 65", run.Output);
        Assert.Matches(@"corrupt-\S+\s+Failed\s+runs 3, exit codes \[65, 65, 65\]", run.Output);
    }

    private static Task<SampleRun> RunAsync(string sample, params string[] arguments) => RunAsync(sample, arguments, interruptAfter: null);

    private static async Task<SampleRun> RunAsync(string sample, string[] arguments, string? interruptAfter)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        start.ArgumentList.Add(SampleAssembly(sample));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        var interrupted = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, line) =>
        {
            lock (output)
            {
                output.AppendLine(line.Data);
            }

            if (interruptAfter is not null && line.Data?.Contains(interruptAfter, StringComparison.Ordinal) == true && !interrupted.Task.IsCompleted)
            {
                // SIGINT, as Ctrl+C sends; the result is checked after the run (an assert here would end the test host).
                interrupted.TrySetResult(Interrupt(process.Id, 2));
            }
        };
        process.ErrorDataReceived += (_, line) =>
        {
            lock (output)
            {
                output.AppendLine(line.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(Patience);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{sample} did not end within {Patience}:{Environment.NewLine}{output}");
        }

        process.WaitForExit(); // flushes the redirected output
        if (interruptAfter is not null)
        {
            Assert.True(interrupted.Task.IsCompleted, $"{sample} never printed '{interruptAfter}':{Environment.NewLine}{output}");
            Assert.Equal(0, await interrupted.Task); // kill(2) succeeded
        }

        lock (output)
        {
            return new SampleRun(process.ExitCode, output.ToString());
        }
    }

    private static string SampleAssembly(string sample)
    {
        // This assembly runs from test/Bus.Sqlite.Tests/bin/<configuration>/<tfm>/; the samples are built (project
        // references without their assemblies) to samples/<name>/bin/<configuration>/<tfm>/.
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = output.Parent!.Name;
        var root = output.Parent.Parent!.Parent!.Parent!.Parent!.FullName;
        var path = Path.Combine(root, "samples", sample, "bin", configuration, output.Name, sample + ".dll");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"The {sample} sample is not built at {path}: build Bus.sln first.", path);
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Interrupt(int pid, int signal);

    [GeneratedRegex(@"account \d{3} closed")]
    private static partial Regex ClosedAccounts();

    private sealed record SampleRun(int ExitCode, string Output);
}

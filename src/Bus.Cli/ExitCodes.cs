namespace Bus.Cli;

/// <summary>The exit codes of <c>bus</c>, for scripts. They are part of the tool's contract (see the README).</summary>
internal static class ExitCodes
{
    /// <summary>Done.</summary>
    public const int Success = 0;

    /// <summary>The transport or store failed (unreachable, refused, an unexpected error).</summary>
    public const int Failure = 1;

    /// <summary>The command line is wrong: unknown command or option, missing or invalid argument.</summary>
    public const int Usage = 2;

    /// <summary>The connection settings are missing or invalid (no transport, bad settings file or option value).</summary>
    public const int Configuration = 3;

    /// <summary>What was asked for does not exist (a dead letter, workflow or job id).</summary>
    public const int NotFound = 4;

    /// <summary>A destructive command was not confirmed (answer no, or no <c>--yes</c> without a terminal).</summary>
    public const int NotConfirmed = 5;
}

/// <summary>An error the tool reports with its message and <see cref="ExitCode"/>, without a stack trace.</summary>
internal sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

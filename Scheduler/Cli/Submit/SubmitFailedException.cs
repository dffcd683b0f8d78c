namespace BatchScheduler.Cli.Submit;

/// <summary>Why submitting or waiting stopped, with the exit code that says so.</summary>
internal sealed class SubmitFailedException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

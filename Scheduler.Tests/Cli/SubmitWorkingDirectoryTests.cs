using BatchScheduler.Tests.Infrastructure;

namespace BatchScheduler.Tests.Cli;

/// <summary><c>dotnet run --project Scheduler -- submit FILE</c> resolves FILE where the caller is, not in <c>Scheduler/</c>.</summary>
public sealed class SubmitWorkingDirectoryTests
{
    [Fact]
    public async Task DotnetRun_FromAnyDirectory_RunsTheProcessInTheCallersDirectory()
    {
        var caller = Directory.CreateTempSubdirectory("bs-caller-").FullName;
        try
        {
            var start = new System.Diagnostics.ProcessStartInfo("dotnet") { WorkingDirectory = caller, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "msbuild", Path.Combine(RepositoryRoot.Path, "Scheduler", "Scheduler.csproj"), "-getProperty:RunWorkingDirectory" })
                start.ArgumentList.Add(arg);
            using var msbuild = System.Diagnostics.Process.Start(start)!;
            var output = await msbuild.StandardOutput.ReadToEndAsync();
            await msbuild.WaitForExitAsync();

            Assert.Equal(0, msbuild.ExitCode);
            Assert.Equal(caller, output.Trim().TrimEnd(Path.DirectorySeparatorChar));
        }
        finally
        {
            Directory.Delete(caller, recursive: true);
        }
    }
}

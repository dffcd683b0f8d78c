using System.Diagnostics;
using System.Net;
using System.Text.Json;
using BatchScheduler.Tests.Infrastructure;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Api;

/// <summary>
/// <c>/openapi/v1.json</c> passes Redocly's recommended rules with no error, so code generators,
/// gateways and viewers take it as it is. The linter is the <c>@redocly/cli</c> that
/// <c>tools/openapi-lint</c> pins (test.sh installs it with <c>npm ci</c>); its warnings are printed.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class OpenApiLintTests(OpenApiFixture fixture, ITestOutputHelper output) : IClassFixture<OpenApiFixture>
{
    private static readonly string LintFolder = Path.Combine(RepositoryRoot.Path, "tools", "openapi-lint");
    private static readonly string Cli = Path.Combine(LintFolder, "node_modules", "@redocly", "cli", "bin", "cli.js");
    private static readonly TimeSpan LintTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Document_RedoclyRecommendedRules_NoErrors()
    {
        Assert.True(File.Exists(Cli),
            $"The OpenAPI linter is not installed ({Cli} is missing): run ./test.sh, which installs it with 'npm ci' in tools/openapi-lint.");
        using var response = await fixture.Node.Http.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var file = Path.Combine(Path.GetTempPath(), $"batchscheduler-openapi-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, await response.Content.ReadAsStringAsync());
        try
        {
            var (exit, stdout, stderr) = await LintAsync(file);
            Assert.True(stdout.TrimStart().StartsWith('{'), $"redocly lint exited {exit} without a JSON report:\n{stderr}\n{stdout}");
            using var report = JsonDocument.Parse(stdout);
            var problems = report.RootElement.GetProperty("problems").EnumerateArray().Select(Describe).ToList();
            foreach (var problem in problems)
                output.WriteLine(problem);
            var totals = report.RootElement.GetProperty("totals");
            var errors = totals.GetProperty("errors").GetInt32();
            output.WriteLine($"{errors} errors, {totals.GetProperty("warnings").GetInt32()} warnings");
            Assert.True(errors == 0, $"redocly lint found {errors} errors in /openapi/v1.json:\n"
                + string.Join("\n", problems.Where(p => p.StartsWith("error", StringComparison.Ordinal))));
            Assert.Equal(0, exit);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>"error operation-operationId #/paths/~1healthz/get: Operation object should contain `operationId` field."</summary>
    private static string Describe(JsonElement problem)
    {
        var where = problem.GetProperty("location").EnumerateArray().Select(l => l.TryGetProperty("pointer", out var p) ? p.GetString() : null).FirstOrDefault();
        return $"{problem.GetProperty("severity").GetString()} {problem.GetProperty("ruleId").GetString()} {where}: {problem.GetProperty("message").GetString()}";
    }

    private static async Task<(int ExitCode, string Output, string Error)> LintAsync(string file)
    {
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = LintFolder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { Cli, "lint", file, "--config", Path.Combine(LintFolder, "redocly.yaml"), "--format=json" })
            start.ArgumentList.Add(argument);
        // No telemetry and no update check: the test lints offline, and the same way each time.
        start.Environment["REDOCLY_TELEMETRY"] = "off";
        start.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
        using var process = Start(start);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(LintTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException ex)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"redocly lint did not end within {LintTimeout.TotalSeconds} s.", ex);
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    private static Process Start(ProcessStartInfo start)
    {
        try
        {
            return Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("node (Node.js) is not on PATH: run ./test.sh, which installs npm and the linter.", ex);
        }
    }
}

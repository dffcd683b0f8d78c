using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using BatchScheduler.Tests.Infrastructure;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Samples;

/// <summary>
/// The packages as a user gets them: the solution is packed into a folder, samples/HelloJobs (an app
/// of its own, referencing BatchScheduler.AspNetCore and BatchScheduler.Sqlite by version, not the
/// projects) is restored from that folder into a package cache of its own, built and run, and an
/// item runs through the sample's own executor with the dashboard served under /jobs/.
/// </summary>
public sealed partial class HelloJobsSampleTests(ITestOutputHelper output) : IDisposable
{
    private static readonly string[] Packages =
        ["BatchScheduler.Executors", "BatchScheduler", "BatchScheduler.Sqlite", "BatchScheduler.PostgreSql", "BatchScheduler.SqlServer", "BatchScheduler.AspNetCore"];

    private readonly string _work = Directory.CreateTempSubdirectory("hellojobs-").FullName;

    [Fact]
    [Trait("Category", "Packages")]
    public async Task Sample_RestoredFromThePackedFolder_RunsAnItemThroughItsOwnExecutor_AndServesTheDashboardUnderJobs()
    {
        var feed = Path.Combine(_work, "feed");
        // The solution is built already (the test runs from it); pack what that build produced.
        await RunAsync("dotnet", ["pack", Path.Combine(RepositoryRoot.Path, "BatchScheduler.sln"), "-c", "Release", "--no-build", "-o", feed]);
        foreach (var id in Packages)
        {
            var nupkg = Path.Combine(feed, $"{id}.{PackageVersion}.nupkg");
            Assert.True(File.Exists(nupkg), $"dotnet pack made no {id} package: {string.Join(", ", Directory.GetFiles(feed).Select(Path.GetFileName))}");
            Assert.True(File.Exists(Path.ChangeExtension(nupkg, ".snupkg")), $"{id} has no symbol package");
            AssertMetadata(nupkg, id);
        }

        var app = Path.Combine(_work, "app");
        await RunAsync("dotnet", ["build", Path.Combine(RepositoryRoot.Path, "samples", "HelloJobs", "HelloJobs.csproj"), "-c", "Release",
            "-o", app, "--packages", Path.Combine(_work, "packages"), $"-p:RestoreAdditionalProjectSources={feed}"]);
        // Restored from the folder, not from the repository's projects.
        Assert.True(Directory.Exists(Path.Combine(_work, "packages", "batchscheduler.aspnetcore", PackageVersion)));
        Assert.False(File.Exists(Path.Combine(app, "Scheduler.dll")), "the executable came along with the packages");

        await using var sample = await SampleProcess.StartAsync(app, Path.Combine(_work, "jobs.db"), output);
        var http = sample.Http;

        var put = await http.PutAsJsonAsync("/jobs/api/work-items/greetings/world", new { payload = new { name = "World" } });
        Assert.True(put.IsSuccessStatusCode, $"{put.StatusCode}: {await put.Content.ReadAsStringAsync()}");
        string? state = null;
        await Eventually.TrueAsync(async () =>
        {
            var item = await http.GetFromJsonAsync<JsonElement>("/jobs/api/work-items/greetings/world");
            state = item.GetProperty("state").GetString();
            return state is "completed" or "dead_lettered";
        }, TimeSpan.FromSeconds(60), "the sample's item should finish");
        Assert.Equal("completed", state);
        Assert.Contains("Hello, World! (greetings/world, attempt 1", sample.Output, StringComparison.Ordinal);

        // The dashboard under the prefix, with links relative to it; nothing of BatchScheduler outside it.
        var page = await http.GetStringAsync("/jobs/");
        Assert.Contains("src=\"dashboard/app.js\"", page, StringComparison.Ordinal);
        Assert.DoesNotContain("\"/dashboard/", page, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/jobs/dashboard/app.js")).StatusCode);
        var bare = await http.GetAsync("/jobs");
        Assert.Equal(HttpStatusCode.Redirect, bare.StatusCode);
        Assert.Equal("/jobs/", bare.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/api/work-items/greetings/world")).StatusCode);
        Assert.StartsWith("HelloJobs", await http.GetStringAsync("/"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/jobs/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/jobs/openapi/v1.json")).StatusCode);
    }

    private static string PackageVersion => typeof(BatchScheduler.Hosting.BatchSchedulerBuilder).Assembly
        .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
        .Cast<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion.Split('+')[0];

    /// <summary>Real metadata in the .nuspec: description, licence expression, readme, repository with its commit.</summary>
    private static void AssertMetadata(string nupkg, string id)
    {
        using var zip = ZipFile.OpenRead(nupkg);
        using var reader = new StreamReader(zip.GetEntry($"{id}.nuspec")!.Open());
        var nuspec = reader.ReadToEnd();
        Assert.DoesNotContain("<description>Package Description</description>", nuspec, StringComparison.Ordinal);
        Assert.Contains("<license type=\"expression\">MIT</license>", nuspec, StringComparison.Ordinal);
        Assert.Contains("<readme>README.md</readme>", nuspec, StringComparison.Ordinal);
        Assert.Matches("<repository type=\"git\" url=\"[^\"]+\"", nuspec);
        Assert.NotNull(zip.GetEntry("README.md"));
    }

    private async Task RunAsync(string file, string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _work };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        var text = await stdout + await stderr;
        output.WriteLine($"$ {file} {string.Join(' ', args)}\n{text}");
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {process.ExitCode}:\n{text}");
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
            // a temp folder; left for the OS
        }
    }

    /// <summary>The sample app as its own process, on a free port.</summary>
    private sealed partial class SampleProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly List<string> _lines = [];
        private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ITestOutputHelper _output;

        private SampleProcess(string app, string database, ITestOutputHelper output)
        {
            _output = output;
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = app };
            start.ArgumentList.Add(Path.Combine(app, "HelloJobs.dll"));
            start.ArgumentList.Add("--urls=http://127.0.0.1:0");
            start.ArgumentList.Add($"--ConnectionStrings:Jobs=Data Source={database}");
            _process = new Process { StartInfo = start, EnableRaisingEvents = true };
            _process.OutputDataReceived += (_, e) => OnLine(e.Data);
            _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
            _process.Exited += (_, _) => _listening.TrySetException(new InvalidOperationException($"The sample exited before listening:\n{Output}"));
        }

        public HttpClient Http { get; private set; } = null!;

        public string Output { get { lock (_lines) return string.Join('\n', _lines); } }

        public static async Task<SampleProcess> StartAsync(string app, string database, ITestOutputHelper output)
        {
            var sample = new SampleProcess(app, database, output);
            sample._process.Start();
            sample._process.BeginOutputReadLine();
            sample._process.BeginErrorReadLine();
            var address = await sample._listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            sample.Http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = address };
            // As a script does without keys (docs/security.md): a loopback change needs this header.
            sample.Http.DefaultRequestHeaders.Add("X-Requested-With", "HelloJobs sample test");
            return sample;
        }

        private void OnLine(string? line)
        {
            if (line is null)
                return;
            lock (_lines)
                _lines.Add(line);
            if (Listening().Match(line) is { Success: true } m)
                _listening.TrySetResult(new Uri(m.Groups[1].Value));
        }

        [GeneratedRegex(@"Now listening on: (http://\S+)")]
        private static partial Regex Listening();

        public async ValueTask DisposeAsync()
        {
            Http?.Dispose();
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            _output.WriteLine(Output);
            _process.Dispose();
        }
    }
}

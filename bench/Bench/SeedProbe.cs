using System.Diagnostics;
using System.Globalization;
using Microsoft.Playwright;

namespace BatchScheduler.Bench;

/// <summary>
/// What an operator sees while the seed runs: every 2 s the API's health summary and item listings, and
/// when a phase begins and then every 60 s each dashboard view opened in a fresh headless chromium tab, timed from navigation until the
/// view's first refresh says "Updated" (its data drawn). Samples are kept per <see cref="Phase"/>; none
/// are taken while it is null.
/// </summary>
public sealed class SeedProbe : IAsyncDisposable
{
    private static readonly (string Name, string Path)[] Routes =
    [
        ("GET /api/health", "/api/health"),
        ("GET /api/work-items (page 1)", "/api/work-items?dataType=series-01&pageSize=100"),
        ("GET /api/work-items (state filter)", "/api/work-items?dataType=series-01&state=completed&pageSize=100"),
    ];

    private readonly HttpClient _http;
    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;
    private readonly (string Name, string Hash)[] _views;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<(string Phase, string Probe), List<double>> _samples = [];
    private readonly List<string> _errors = [];
    private Task _api = Task.CompletedTask;
    private Task _dashboard = Task.CompletedTask;

    private SeedProbe(HttpClient http, IPlaywright playwright, IBrowser browser, string batchId)
    {
        _http = http;
        _playwright = playwright;
        _browser = browser;
        _views =
        [
            ("health", "#/health"),
            ("items", "#/items?dataType=series-01"),
            ("item", "#/items/series-01/e-00000"),
            ("failures", "#/failures"),
            ("batches", "#/batches"),
            ("batch", $"#/batches/{batchId}"),
            ("vendors", "#/vendors"),
            ("nodes", "#/nodes"),
            ("audit", "#/audit"),
        ];
    }

    /// <summary>The phase samples are filed under (e.g. "seed: 1 worker, steady"); null: not sampling.</summary>
    public string? Phase { get; set; }

    public static async Task<SeedProbe> StartAsync(HttpClient http, string batchId)
    {
        var executable = Environment.GetEnvironmentVariable("BATCHSCHEDULER_CHROMIUM") is { Length: > 0 } configured ? configured : "/usr/bin/chromium";
        if (!File.Exists(executable))
            throw new InvalidOperationException($"the seed scenario times the dashboard in Debian's headless chromium, not found at {executable}: apt-get install chromium, or set BATCHSCHEDULER_CHROMIUM");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = executable,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
        var probe = new SeedProbe(http, playwright, browser, batchId);
        probe._api = probe.SampleApiAsync(probe._stop.Token);
        probe._dashboard = probe.SampleDashboardAsync(probe._stop.Token);
        return probe;
    }

    private async Task SampleApiAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(2));
        while (await Tick(timer, stop))
        {
            foreach (var (name, path) in Routes)
            {
                if (Phase is not { } phase)
                    break;
                var clock = Stopwatch.StartNew();
                try
                {
                    using var response = await _http.GetAsync(path, stop);
                    response.EnsureSuccessStatusCode();
                    await response.Content.ReadAsByteArrayAsync(stop);
                    Add(phase, name, clock.Elapsed.TotalMilliseconds);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !stop.IsCancellationRequested)
                {
                    lock (_errors)
                        _errors.Add($"{phase}: {name}: {e.Message}");
                }
            }
        }
    }

    private async Task SampleDashboardAsync(CancellationToken stop)
    {
        // A round of every view when a phase begins, then one a minute while it lasts.
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(2));
        string? last = null;
        var since = Stopwatch.StartNew();
        while (await Tick(timer, stop))
        {
            if (Phase is not { } current || (current == last && since.Elapsed < TimeSpan.FromSeconds(60)))
                continue;
            (last, since) = (current, Stopwatch.StartNew());
            foreach (var (name, hash) in _views)
            {
                if (Phase is not { } phase || stop.IsCancellationRequested)
                    break;
                IBrowserContext? context = null;
                var clock = Stopwatch.StartNew();
                try
                {
                    context = await _browser.NewContextAsync(new BrowserNewContextOptions
                    {
                        BaseURL = _http.BaseAddress!.ToString(),
                        ViewportSize = new ViewportSize { Width = 1400, Height = 1000 },
                    });
                    var page = await context.NewPageAsync();
                    clock.Restart();
                    await page.GotoAsync("/" + hash);
                    await page.WaitForFunctionAsync(
                        "() => /^(Updated|Refresh failed)/.test(document.getElementById('refresh-status')?.textContent ?? '')",
                        null, new PageWaitForFunctionOptions { Timeout = 60_000 });
                    var status = await page.Locator("#refresh-status").TextContentAsync() ?? "";
                    if (!status.StartsWith("Updated", StringComparison.Ordinal))
                        throw new InvalidOperationException($"the view's refresh failed: {await page.Locator("#view").InnerTextAsync()}");
                    Add(phase, $"dashboard {name}", clock.Elapsed.TotalMilliseconds);
                }
                catch (Exception e) when (e is PlaywrightException or TimeoutException or InvalidOperationException)
                {
                    lock (_errors)
                        _errors.Add($"{phase}: dashboard {name}: {e.Message}");
                }
                finally
                {
                    if (context is not null)
                        await context.DisposeAsync();
                }
            }
        }
    }

    private static async Task<bool> Tick(PeriodicTimer timer, CancellationToken stop)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stop);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void Add(string phase, string probe, double milliseconds)
    {
        lock (_samples)
        {
            if (!_samples.TryGetValue((phase, probe), out var list))
                _samples[(phase, probe)] = list = [];
            list.Add(milliseconds);
        }
    }

    /// <summary>p50 per phase and probe (p99 and max in the notes); failed samples are counted in the notes of that phase's health figure.</summary>
    public IReadOnlyList<BenchResult> Results()
    {
        var results = new List<BenchResult>();
        lock (_samples)
        {
            foreach (var ((phase, probe), list) in _samples.OrderBy(s => s.Key.Phase, StringComparer.Ordinal))
            {
                var sorted = list.Order().ToList();
                var p99 = sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(sorted.Count * 0.99) - 1)];
                var cut = phase.LastIndexOf(", ", StringComparison.Ordinal);
                var (variant, kind) = cut < 0 ? (phase, "") : (phase[..cut], phase[(cut + 2)..]);
                int errors;
                lock (_errors)
                    errors = _errors.Count(e => e.StartsWith(phase + ": " + probe + ":", StringComparison.Ordinal));
                results.Add(new BenchResult("batchscheduler", variant, $"seed {kind} {probe} p50", sorted[sorted.Count / 2], "ms",
                    string.Create(CultureInfo.InvariantCulture, $"{sorted.Count} samples during the {kind} phase; p99 {p99:0} ms, max {sorted[^1]:0} ms{(errors > 0 ? $", {errors} failed" : "")}")));
            }
        }
        return results;
    }

    /// <summary>Every failed sample, for the bench's diagnostics.</summary>
    public IReadOnlyList<string> Errors()
    {
        lock (_errors)
            return [.. _errors];
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_api, _dashboard);
        await _browser.DisposeAsync();
        _playwright.Dispose();
        _stop.Dispose();
    }
}

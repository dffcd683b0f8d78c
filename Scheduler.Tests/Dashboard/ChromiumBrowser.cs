using Microsoft.Playwright;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Dashboard;

/// <summary>
/// Debian's headless <c>chromium</c> (installed by test.sh), driven through Playwright with
/// <see cref="BrowserTypeLaunchOptions.ExecutablePath"/>: nothing is downloaded. A missing browser
/// fails the tests with how to install it; it never skips them.
/// </summary>
public sealed class ChromiumBrowser : IAsyncDisposable
{
    /// <summary>Overrides where chromium is looked for.</summary>
    public const string PathVariable = "BATCHSCHEDULER_CHROMIUM";

    /// <summary>Overrides where screenshots go (test.sh points it next to its TRX files).</summary>
    public const string ScreenshotsVariable = "BATCHSCHEDULER_SCREENSHOTS";

    private readonly IPlaywright _playwright;

    private ChromiumBrowser(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Browser = browser;
    }

    public IBrowser Browser { get; }

    public static async Task<ChromiumBrowser> LaunchAsync()
    {
        var executable = FindChromium();
        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = executable,
                Headless = true,
                // Root in CI: chromium's sandbox refuses to run as root.
                Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
                Timeout = 30_000,
            });
            Assertions.SetDefaultExpectTimeout(10_000);
            return new ChromiumBrowser(playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    private static string FindChromium()
    {
        var configured = Environment.GetEnvironmentVariable(PathVariable);
        string[] candidates = string.IsNullOrEmpty(configured) ? ["/usr/bin/chromium", "/usr/bin/chromium-browser"] : [configured];
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException(
                $"The dashboard browser tests need Debian's headless chromium, not found at {string.Join(" or ", candidates)}. "
                + $"./test.sh installs it (apt-get install chromium, as root); or set {PathVariable} to a chromium binary.");
    }

    /// <summary>
    /// A fresh tab (own storage) on <paramref name="baseAddress"/>; console errors and dialogs are collected.
    /// <paramref name="timeZone"/> (an IANA id) is the browser's zone; without it, the machine's.
    /// </summary>
    public async Task<DashboardPage> OpenAsync(Uri baseAddress, ITestOutputHelper output, string? timeZone = null)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = 1400, Height = 1000 },
            Locale = "en-US",
            TimezoneId = timeZone,
        });
        context.SetDefaultTimeout(10_000);
        return new DashboardPage(context, await context.NewPageAsync(), output);
    }

    /// <summary>Where screenshots go: <c>$BATCHSCHEDULER_SCREENSHOTS</c>, else <c>TestResults/screenshots</c> in the repo.</summary>
    public static string ScreenshotDirectory()
    {
        var configured = Environment.GetEnvironmentVariable(ScreenshotsVariable);
        if (!string.IsNullOrEmpty(configured))
            return Directory.CreateDirectory(configured).FullName;
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "BatchScheduler.sln")))
            directory = directory.Parent;
        var root = directory?.FullName ?? AppContext.BaseDirectory;
        return Directory.CreateDirectory(Path.Combine(root, "TestResults", "screenshots")).FullName;
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        _playwright.Dispose();
    }
}

/// <summary>One tab on the dashboard, with what went wrong in it: script errors, CSP violations, dialogs.</summary>
public sealed class DashboardPage : IAsyncDisposable
{
    private readonly IBrowserContext _context;
    private readonly IPage _page;
    private readonly ITestOutputHelper _output;
    private readonly List<string> _problems;
    private readonly List<string> _prompts = [];
    private string? _promptAnswer;

    public DashboardPage(IBrowserContext context, IPage page, ITestOutputHelper output)
    {
        (_context, _page, _output) = (context, page, output);
        _problems = Watch(page);
        // An alert() would mean markup from the API ran as script; a prompt() is a problem too unless the test answers it.
        page.Dialog += (_, dialog) =>
        {
            if (dialog.Type == DialogType.Prompt && _promptAnswer is { } answer)
            {
                lock (_prompts)
                    _prompts.Add(dialog.Message);
                _ = dialog.AcceptAsync(answer);
                return;
            }
            lock (_problems)
                _problems.Add($"dialog: {dialog.Message}");
            _ = dialog.DismissAsync();
        };
    }

    public IPage Page => _page;

    /// <summary>Answers every <c>prompt()</c> from now on with <paramref name="answer"/>.</summary>
    public void AnswerPrompts(string answer) => _promptAnswer = answer;

    /// <summary>What the prompts answered so far asked.</summary>
    public IReadOnlyList<string> Prompts
    {
        get
        {
            lock (_prompts)
                return [.. _prompts];
        }
    }

    private static List<string> Watch(IPage page)
    {
        var problems = new List<string>();
        page.PageError += (_, error) =>
        {
            lock (problems)
                problems.Add($"page error: {error}");
        };
        page.Console += (_, message) =>
        {
            // HTTP errors the page handles (a 404 it explains, a 403 it shows) also log "Failed to load resource".
            if (message.Type == "error" && !message.Text.StartsWith("Failed to load resource", StringComparison.Ordinal))
            {
                lock (problems)
                    problems.Add($"console error: {message.Text}");
            }
        };
        return problems;
    }

    /// <summary>Saves a full-page screenshot and logs its path.</summary>
    public async Task ScreenshotAsync(string name)
    {
        var path = Path.Combine(ChromiumBrowser.ScreenshotDirectory(), $"{name}.png");
        await _page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        _output.WriteLine($"screenshot: {path}");
    }

    /// <summary>No script error, CSP violation or dialog happened in this tab.</summary>
    public void AssertNoProblems()
    {
        lock (_problems)
            Assert.True(_problems.Count == 0, "The dashboard reported problems:\n" + string.Join("\n", _problems));
    }

    public async ValueTask DisposeAsync() => await _context.DisposeAsync();
}

using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;
using BatchScheduler.Cli.Submit;
using BatchScheduler.Hosting;

namespace BatchScheduler.Cli;

/// <summary>The verbs of the Scheduler executable: <c>run</c> (default), <c>migrate</c>, <c>submit</c>, <c>pause</c> and <c>resume</c>.</summary>
internal static class SchedulerCommands
{
    public const string UrlVariable = "BATCHSCHEDULER_URL";
    public const string ApiKeyVariable = "BATCHSCHEDULER_API_KEY";

    private static readonly TimeSpan DefaultPollInterval = TimeSpan.FromSeconds(1);

    public static RootCommand Create()
    {
        var run = new Command("run", "Start a node: executes work items and serves the dashboard and API (the default).")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        run.SetAction((result, ct) => NodeRunner.RunAsync(result.UnmatchedTokens.ToArray(), ct));

        var migrate = new Command("migrate", "Create or upgrade the schema of the configured store, then exit.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        migrate.SetAction((result, ct) => NodeRunner.MigrateAsync(result.UnmatchedTokens.ToArray(), ct));

        var root = new RootCommand(
            "BatchScheduler: every work item its own persistent Quartz.NET trigger. Settings come from appsettings.json, " +
            "environment variables (Storage__Provider=Postgres) and --Section:Key=value arguments.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        root.Subcommands.Add(run);
        root.Subcommands.Add(migrate);
        root.Subcommands.Add(CreateSubmit());
        root.Subcommands.Add(CreatePauseOrResume(pause: true));
        root.Subcommands.Add(CreatePauseOrResume(pause: false));
        root.SetAction((result, ct) => NodeRunner.RunAsync(result.UnmatchedTokens.ToArray(), ct));
        return root;
    }

    private static Command CreateSubmit()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "The batch file: .jsonl/.ndjson (one JSON record per line) or .csv." };
        var dataType = new Option<string>("--data-type") { Description = "The data type every record of the file belongs to.", Required = true };
        var wait = new Option<bool>("--wait") { Description = "Show progress until the batch ends; the exit code then says how it ended." };
        var url = new Option<string>("--url") { Description = $"The node's address (default: ${UrlVariable}, else {NodeHost.DefaultUrl})." };
        var apiKey = new Option<string>("--api-key") { Description = $"API key sent as X-Api-Key (default: ${ApiKeyVariable})." };
        var deadline = new Option<DateTimeOffset?>("--deadline")
        {
            Description = "When the batch expires: an ISO-8601 instant (2025-06-01T18:00:00Z) or a duration from now (00:30:00).",
            CustomParser = ParseDeadline,
        };
        var callbackUrl = new Option<Uri?>("--callback-url")
        {
            Description = "Called by the node when the batch ends.",
            CustomParser = result => result.Tokens.Count == 0 ? null : ParseHttpUrl(result, "--callback-url", result.Tokens[0].Value),
        };
        var pollInterval = new Option<TimeSpan>("--poll-interval")
        {
            Description = "How often --wait asks the node for progress.",
            DefaultValueFactory = _ => DefaultPollInterval,
            CustomParser = ParsePollInterval,
        };

        var submit = new Command("submit",
            "Submit a batch file to a running node (POST /api/batches); with --wait, follow it until it ends.\n" +
            "Exit codes: 0 accepted, or with --wait completed (also when since archived); " +
            "1 the batch ended partial_success, failed, expired or cancelled; " +
            "2 usage or input error (unknown option, missing file, unsupported extension, a 4xx from the node such as an unknown data type); " +
            "3 node unreachable, 5xx or timeout; " +
            "130 interrupted with Ctrl+C while waiting (the batch keeps running on the node).")
        {
            file, dataType, wait, url, apiKey, deadline, callbackUrl, pollInterval,
        };
        submit.Action = new SubmitAction(async (result, ct) =>
        {
            var config = result.InvocationConfiguration;
            if (await NodeUrlAsync(result.GetValue(url), config.Error) is not { } node)
                return SubmitCommand.UsageError;
            var options = new SubmitOptions
            {
                FilePath = result.GetRequiredValue(file).FullName,
                DataType = result.GetRequiredValue(dataType),
                Wait = result.GetValue(wait),
                Url = node,
                ApiKey = result.GetValue(apiKey) ?? Environment.GetEnvironmentVariable(ApiKeyVariable),
                Deadline = result.GetValue(deadline),
                CallbackUrl = result.GetValue(callbackUrl),
                PollInterval = result.GetValue(pollInterval),
            };
            using var http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) })
            {
                // The upload takes as long as the file needs; SubmitOptions.PollTimeout bounds the progress requests.
                Timeout = Timeout.InfiniteTimeSpan,
            };
            var interactive = ReferenceEquals(config.Output, Console.Out) && !Console.IsOutputRedirected;
            using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(ct);
            // Program.cs leaves Ctrl+C to the verbs (the node's host handles it for run); here the first
            // one stops waiting and a second one ends the process as usual.
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                if (interrupt.IsCancellationRequested)
                    return;
                e.Cancel = true;
                interrupt.Cancel();
            };
            Console.CancelKeyPress += onCancel;
            try
            {
                return await SubmitCommand.RunAsync(options, http, config.Output, config.Error, interactive, interrupt.Token);
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        });
        return submit;
    }

    private static Command CreatePauseOrResume(bool pause)
    {
        var dataType = new Argument<string>("DATA_TYPE") { Description = "The data type." };
        var entityId = new Argument<string?>("ENTITY_ID") { Description = "One item of it (default: the whole data type).", Arity = ArgumentArity.ZeroOrOne };
        var reason = new Option<string>("--reason") { Description = "Why (required to pause; shown with the pause).", Required = pause };
        var url = new Option<string>("--url") { Description = $"The node's address (default: ${UrlVariable}, else {NodeHost.DefaultUrl})." };
        var apiKey = new Option<string>("--api-key") { Description = $"API key sent as X-Api-Key (default: ${ApiKeyVariable})." };
        var command = pause
            ? new Command("pause",
                "Pause a data type (or one item) on a running node: nothing of it starts, on any node, until it is resumed; running attempts finish.\n" +
                "Exit codes: 0 paused; 2 usage error or refused (a 4xx such as an unknown data type); 3 node unreachable, 5xx or timeout.")
            : new Command("resume",
                "Resume a paused data type (or item): what fell due meanwhile runs once, stalest first.\n" +
                "Exit codes: 0 resumed; 2 usage error or refused (4xx); 3 node unreachable, 5xx or timeout.");
        command.Arguments.Add(dataType);
        command.Arguments.Add(entityId);
        if (pause)
            command.Options.Add(reason);
        command.Options.Add(url);
        command.Options.Add(apiKey);
        command.Action = new SubmitAction(async (result, ct) =>
        {
            var config = result.InvocationConfiguration;
            if (await NodeUrlAsync(result.GetValue(url), config.Error) is not { } node)
                return SubmitCommand.UsageError;
            using var http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) });
            return await PauseCommand.RunAsync(new PauseCommand.Request(pause, result.GetRequiredValue(dataType), result.GetValue(entityId),
                pause ? result.GetValue(reason) : null, node, result.GetValue(apiKey) ?? Environment.GetEnvironmentVariable(ApiKeyVariable)),
                http, config.Output, config.Error, ct);
        }, $"Scheduler {(pause ? "pause" : "resume")} --help");
        return command;
    }

    /// <summary>The node's address from <c>--url</c>, else <c>$BATCHSCHEDULER_URL</c>, else the default; null (said on <paramref name="error"/>) when it is not an http(s) address.</summary>
    private static async Task<Uri?> NodeUrlAsync(string? givenUrl, TextWriter error)
    {
        if (ResolveUrl(givenUrl) is { } node)
            return node;
        var (setting, value) = givenUrl is null ? (UrlVariable, Environment.GetEnvironmentVariable(UrlVariable)) : ("--url", givenUrl);
        await error.WriteLineAsync($"{setting} '{value}' is not an absolute http(s) address such as {NodeHost.DefaultUrl}.");
        return null;
    }

    private static Uri? ResolveUrl(string? given)
    {
        var text = given ?? Environment.GetEnvironmentVariable(UrlVariable);
        if (string.IsNullOrWhiteSpace(text))
            return new Uri(NodeHost.DefaultUrl);
        return Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps) ? uri : null;
    }

    private static DateTimeOffset? ParseDeadline(ArgumentResult result)
    {
        if (result.Tokens.Count == 0)
            return null;
        if (SubmitDeadline.TryParse(result.Tokens[0].Value, TimeProvider.System.GetUtcNow(), out var deadline, out var problem))
            return deadline;
        result.AddError(problem);
        return null;
    }

    private static TimeSpan ParsePollInterval(ArgumentResult result)
    {
        if (result.Tokens.Count == 0)
            return DefaultPollInterval;
        var text = result.Tokens[0].Value;
        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var interval) && interval > TimeSpan.Zero)
            return interval;
        result.AddError($"--poll-interval '{text}' is not a positive duration; give one like 00:00:02.");
        return default;
    }

    private static Uri? ParseHttpUrl(ArgumentResult result, string option, string text)
    {
        if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
            return uri;
        result.AddError($"{option} '{text}' is not an absolute http(s) URL.");
        return null;
    }

    /// <summary>
    /// Runs <c>submit</c> (or <c>pause</c>, <c>resume</c>) even when parsing failed, so that a usage error exits 2 (the parser's own
    /// error action exits 1, which for <c>submit --wait</c> means "the batch did not complete").
    /// </summary>
    private sealed class SubmitAction(Func<ParseResult, CancellationToken, Task<int>> run, string help = "Scheduler submit --help") : AsynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override async Task<int> InvokeAsync(ParseResult parseResult, CancellationToken cancellationToken = default)
        {
            // The root passes unknown tokens through for run/migrate, so submit refuses them itself.
            var unknown = parseResult.UnmatchedTokens.Select(token => $"Unrecognized command or argument '{token}'.");
            var errors = parseResult.Errors.Select(e => e.Message).Concat(unknown).ToList();
            if (errors.Count == 0)
                return await run(parseResult, cancellationToken);
            foreach (var message in errors)
                await parseResult.InvocationConfiguration.Error.WriteLineAsync(message);
            await parseResult.InvocationConfiguration.Error.WriteLineAsync($"See: {help}");
            return SubmitCommand.UsageError;
        }
    }
}

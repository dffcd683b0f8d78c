using System.Net.Sockets;
using BatchScheduler.Configuration;
using BatchScheduler.Hosting;
using BatchScheduler.Storage.Migrations;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Cli;

/// <summary>Runs the verbs and turns start-up failures into one clear message and an exit code.</summary>
internal static class NodeRunner
{
    public const int BadSettings = 2;
    public const int StartFailed = 1;

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        try
        {
            await using var app = NodeHost.Build(args);
            // The host handles SIGTERM/Ctrl+C itself, so shutdown is graceful rather than cut off.
            await app.RunAsync();
            return 0;
        }
        catch (Exception ex) when (Classify(ex) is { } exit)
        {
            return exit;
        }
    }

    public static async Task<int> MigrateAsync(string[] args, CancellationToken cancellationToken)
    {
        try
        {
            await using var app = NodeHost.Build(args);
            // The same settings check a starting node makes: a node that could not start is not migrated for.
            app.Services.GetService<IStartupValidator>()?.Validate();
            var storage = app.Services.GetRequiredService<IOptions<StorageOptions>>().Value;
            var applied = await app.Services.GetRequiredService<SchemaMigrator>().MigrateAsync(storage.Provider, storage.ConnectionString, cancellationToken);
            await Console.Out.WriteLineAsync(applied.Count == 0
                ? $"{storage.Provider} schema is up to date."
                : $"{storage.Provider} schema migrated: {string.Join(", ", applied)}");
            return 0;
        }
        catch (Exception ex) when (Classify(ex) is { } exit)
        {
            return exit;
        }
    }

    /// <summary>Prints what stopped the node; null for exceptions that should crash loudly as they are.</summary>
    private static int? Classify(Exception ex)
    {
        var invalidSettings = ex switch
        {
            OptionsValidationException one => [one],
            AggregateException many when many.InnerExceptions.All(e => e is OptionsValidationException) =>
                many.InnerExceptions.Cast<OptionsValidationException>().ToList(),
            _ => new List<OptionsValidationException>(),
        };
        if (invalidSettings.Count > 0)
        {
            Console.Error.WriteLine("The node cannot start: its settings are invalid.");
            foreach (var failure in invalidSettings.SelectMany(e => e.Failures))
                Console.Error.WriteLine($"  - {failure}");
            return BadSettings;
        }
        switch (ex)
        {
            case Storage.SqliteStoreInUseException inUse:
                Console.Error.WriteLine(inUse.Message);
                return StartFailed;
            case InvalidOperationException when ex.Message.Contains("configuration", StringComparison.OrdinalIgnoreCase):
                Console.Error.WriteLine($"The node cannot start: {ex.Message}{(ex.InnerException is { } inner ? " " + inner.Message : "")}");
                return BadSettings;
            case SchemaMigrationException migration:
                Console.Error.WriteLine($"The schema could not be migrated: {migration.Message}");
                return StartFailed;
            case IOException when IsAddressInUse(ex):
                Console.Error.WriteLine($"The node cannot start: {ex.Message} Another process listens there: stop it, " +
                    "or choose another address with --urls (or the Urls setting, or ASPNETCORE_URLS).");
                return StartFailed;
            default:
                return null;
        }
    }

    /// <summary>Kestrel reports a busy port as an IOException around <see cref="Microsoft.AspNetCore.Connections.AddressInUseException"/> or a <see cref="SocketException"/>.</summary>
    private static bool IsAddressInUse(Exception ex)
    {
        for (var inner = ex.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is Microsoft.AspNetCore.Connections.AddressInUseException or SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse })
                return true;
        }
        return false;
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace BatchScheduler.Tests.Infrastructure;

/// <summary>
/// A throwaway PostgreSQL server of the test's own (initdb in a temp folder, a free loopback
/// port), for tests that must restart or stop the server without disturbing the shared one.
/// Uses the server binaries ./test.sh installs; runs them as user postgres when the tests run as root.
/// </summary>
public sealed class PrivatePostgres : IAsyncDisposable
{
    private readonly string _bin;
    private readonly string _dir;

    private PrivatePostgres(string bin, string dir, int port)
    {
        _bin = bin;
        _dir = dir;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres";

    public static async Task<PrivatePostgres> StartAsync()
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderDescending().FirstOrDefault()
            : null;
        if (bin is null)
            throw new InvalidOperationException("PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) are missing: run ./test.sh, which installs them.");
        var dir = Directory.CreateTempSubdirectory("batchscheduler-private-pg-").FullName;
        var server = new PrivatePostgres(bin, dir, FreePort());
        if (Environment.UserName == "root")
            await RunAsync("chown", ["postgres:", dir]);
        await server.PgAsync("initdb", "-D", server.Data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C");
        await File.AppendAllTextAsync(Path.Combine(server.Data, "postgresql.conf"),
            $"\nlisten_addresses = '127.0.0.1'\nport = {server.Port}\nunix_socket_directories = '{dir}'\nmax_connections = 200\n");
        await server.PgAsync("pg_ctl", "-D", server.Data, "-l", Path.Combine(dir, "server.log"), "-w", "start");
        return server;
    }

    private string Data => Path.Combine(_dir, "data");

    /// <summary>Stops the server (fast: open sessions are cut) and starts it again.</summary>
    public Task RestartAsync() => PgAsync("pg_ctl", "-D", Data, "-l", Path.Combine(_dir, "server.log"), "-m", "fast", "-w", "restart");

    private Task PgAsync(string program, params string[] args) =>
        Environment.UserName == "root"
            ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(_bin, program), .. args])
            : RunAsync(Path.Combine(_bin, program), args);

    private static async Task RunAsync(string program, string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {process.ExitCode}: {await output}{await error}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await PgAsync("pg_ctl", "-D", Data, "-m", "immediate", "-w", "stop");
        }
        catch (InvalidOperationException)
        {
            // Already stopped.
        }
        Directory.Delete(_dir, recursive: true);
    }
}

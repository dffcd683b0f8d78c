using System.Collections.Concurrent;
using BatchScheduler.Configuration;
using BatchScheduler.Storage;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Credits;

/// <summary>Credits taken for one call, in the window they were taken from.</summary>
/// <param name="Vendor">The vendor's name.</param>
/// <param name="WindowStart">Start of the credit window, Unix milliseconds.</param>
/// <param name="Credits">Credits reserved for the call.</param>
internal sealed record CreditReservation(string Vendor, long WindowStart, int Credits);

/// <summary>
/// Vendor credits, shared by the whole cluster through <c>vendor_credits</c> (one row per vendor and
/// window), reserved before each call.
/// </summary>
/// <remarks>
/// <para>
/// A node does not touch the shared row per call: it takes credits from it in blocks (a twentieth of
/// the window's budget, at most 50 calls' worth, at least one call's) and hands them out locally. The
/// block is taken by a conditional <c>UPDATE … SET reserved = reserved + n WHERE reserved + n &lt;=
/// credits</c>, so the cluster as a whole never reserves more than the budget; what a node took and
/// did not use lapses with the window. Credits reported as actually spent are added to <c>used</c>
/// in batches, once a second. Data types without a vendor never come here.
/// </para>
/// <para>
/// Windows are aligned to multiples of the vendor's <c>Window</c> since the Unix epoch, on every node
/// alike (node clocks must agree, as for Quartz's check-ins).
/// </para>
/// </remarks>
internal sealed partial class VendorCredits(
    ConnectionFactory connections, IOptions<VendorsOptions> vendors, TimeProvider time, ILogger<VendorCredits> logger) : BackgroundService
{
    private static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Retention = TimeSpan.FromDays(1);

    private readonly ConcurrentDictionary<string, Ledger> _ledgers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Vendor, long Window), int> _unflushed = new();

    /// <summary>The vendor's current window: its start and its end.</summary>
    public (DateTimeOffset Start, DateTimeOffset End) WindowAt(string vendor, DateTimeOffset at)
    {
        var window = Options(vendor).Window;
        var start = WindowStart(window, at);
        return (DateTimeOffset.FromUnixTimeMilliseconds(start), DateTimeOffset.FromUnixTimeMilliseconds(start) + window);
    }

    /// <summary>
    /// Takes <paramref name="cost"/> credits of <paramref name="vendor"/> from the current window, or
    /// returns null when the window has none left for it.
    /// </summary>
    public async Task<CreditReservation?> TryReserveAsync(string vendor, int cost, CancellationToken cancellationToken)
    {
        var options = Options(vendor);
        var ledger = _ledgers.GetOrAdd(vendor, _ => new Ledger());
        await ledger.Gate.WaitAsync(cancellationToken);
        try
        {
            var window = ledger.MoveTo(WindowStart(options.Window, time.GetUtcNow()));
            if (ledger.Local < cost)
            {
                var need = cost - ledger.Local;
                var block = Math.Max(need, BlockSize(options.Credits, cost));
                var granted = await LeaseAsync(ledger, vendor, window, options.Credits, block, cancellationToken);
                if (granted == 0 && block > need)
                    granted = await LeaseAsync(ledger, vendor, window, options.Credits, need, cancellationToken);
                if (granted == 0)
                    return null;
                ledger.Local += granted;
            }
            ledger.Local -= cost;
            return new CreditReservation(vendor, window, cost);
        }
        finally
        {
            ledger.Gate.Release();
        }
    }

    /// <summary>
    /// Settles a call: what it actually cost (<paramref name="actual"/>, the reservation when the
    /// executor reported nothing) is recorded as used; credits not spent go back to this node's share
    /// of the window, credits spent beyond the reservation are taken as well, past the budget if need
    /// be (the call has happened; later calls of the window then wait).
    /// </summary>
    public async Task SettleAsync(CreditReservation reservation, int? actual, CancellationToken cancellationToken)
    {
        var spent = actual ?? reservation.Credits;
        if (spent > 0)
            _unflushed.AddOrUpdate((reservation.Vendor, reservation.WindowStart), spent, (_, n) => n + spent);
        var difference = reservation.Credits - spent;
        if (difference == 0)
            return;
        var ledger = _ledgers.GetOrAdd(reservation.Vendor, _ => new Ledger());
        await ledger.Gate.WaitAsync(cancellationToken);
        try
        {
            if (ledger.Window != reservation.WindowStart)
            {
                // The window has passed: nothing to give back, but an overspend still counts in its row.
                if (difference < 0)
                    await ForceReserveAsync(reservation.Vendor, reservation.WindowStart, -difference, cancellationToken);
                return;
            }
            if (difference > 0 || ledger.Local >= -difference)
            {
                ledger.Local += difference;
                return;
            }
            var extra = -difference - ledger.Local;
            ledger.Local = 0;
            await ForceReserveAsync(reservation.Vendor, reservation.WindowStart, extra, cancellationToken);
            CreditsOverspent(logger, reservation.Vendor, extra);
        }
        finally
        {
            ledger.Gate.Release();
        }
    }

    /// <summary>Credits taken from the shared row per lease.</summary>
    internal static int BlockSize(int credits, int cost) => Math.Max(cost, Math.Min(credits / 20, 50 * Math.Max(cost, 1)));

    internal static long WindowStart(TimeSpan window, DateTimeOffset at)
    {
        var size = (long)window.TotalMilliseconds;
        var ms = at.ToUnixTimeMilliseconds();
        return ms - (((ms % size) + size) % size);
    }

    private VendorOptions Options(string vendor) =>
        vendors.Value.Items.TryGetValue(vendor, out var options)
            ? options
            : throw new InvalidOperationException($"Vendor '{vendor}' is not configured under {VendorOptions.Section}.");

    /// <summary>Takes up to <paramref name="count"/> credits from the window's row: all of them or none.</summary>
    private async Task<int> LeaseAsync(Ledger ledger, string vendor, long window, int credits, int count, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        if (!ledger.RowEnsured)
        {
            await using var ensure = connection.Command(connections.Dialect.EnsureVendorWindow)
                .With("@v", vendor).With("@w", window).With("@c", credits);
            await ensure.ExecuteNonQueryAsync(cancellationToken);
            ledger.RowEnsured = true;
        }
        await using var take = connection.Command(
            "UPDATE vendor_credits SET reserved = reserved + @n WHERE vendor = @v AND window_start = @w AND reserved + @n <= credits")
            .With("@v", vendor).With("@w", window).With("@n", count);
        return await take.ExecuteNonQueryAsync(cancellationToken) == 1 ? count : 0;
    }

    private async Task ForceReserveAsync(string vendor, long window, int count, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var take = connection.Command("UPDATE vendor_credits SET reserved = reserved + @n WHERE vendor = @v AND window_start = @w")
            .With("@v", vendor).With("@w", window).With("@n", count);
        await take.ExecuteNonQueryAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var lastPrune = DateTimeOffset.MinValue;
        using var timer = new PeriodicTimer(FlushInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync(stoppingToken);
                var now = time.GetUtcNow();
                if (now - lastPrune > TimeSpan.FromHours(1))
                {
                    await PruneAsync(now, stoppingToken);
                    lastPrune = now;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        await FlushAsync(CancellationToken.None); // what the last calls spent
    }

    /// <summary>Adds what calls spent since the last flush to each window's <c>used</c>.</summary>
    internal async Task FlushAsync(CancellationToken cancellationToken)
    {
        foreach (var key in _unflushed.Keys)
        {
            if (!_unflushed.TryRemove(key, out var spent) || spent == 0)
                continue;
            try
            {
                await using var connection = await connections.OpenAsync(cancellationToken);
                await using var add = connection.Command("UPDATE vendor_credits SET used = used + @n WHERE vendor = @v AND window_start = @w")
                    .With("@v", key.Vendor).With("@w", key.Window).With("@n", spent);
                await add.ExecuteNonQueryAsync(cancellationToken);
            }
#pragma warning disable CA1031 // a lost flush costs an accurate "used" figure, never a call; keep it for the next round
            catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
            {
                _unflushed.AddOrUpdate(key, spent, (_, n) => n + spent);
                FlushFailed(logger, key.Vendor, e.Message);
                return;
            }
        }
    }

    private async Task PruneAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await connections.OpenAsync(cancellationToken);
            await using var prune = connection.Command("DELETE FROM vendor_credits WHERE window_start < @cutoff")
                .With("@cutoff", (now - Retention).ToUnixTimeMilliseconds());
            await prune.ExecuteNonQueryAsync(cancellationToken);
        }
#pragma warning disable CA1031 // old windows wait for the next hour
        catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
        {
            FlushFailed(logger, "(all)", e.Message);
        }
    }

    /// <summary>This node's share of one vendor's current window.</summary>
    private sealed class Ledger
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public long Window { get; private set; } = long.MinValue;

        /// <summary>Credits taken from the shared row and not handed out yet.</summary>
        public int Local { get; set; }

        public bool RowEnsured { get; set; }

        /// <summary>A new window starts with nothing: what this node took from the last one lapses with it.</summary>
        public long MoveTo(long window)
        {
            if (window != Window)
            {
                Window = window;
                Local = 0;
                RowEnsured = false;
            }
            return window;
        }
    }

    [LoggerMessage(1020, LogLevel.Warning, "Calls to vendor {Vendor} cost {Credits} credits more than reserved; taken from the window's budget")]
    private static partial void CreditsOverspent(ILogger logger, string vendor, int credits);

    [LoggerMessage(1021, LogLevel.Warning, "Could not record credit use for vendor {Vendor}: {Reason}; kept for the next flush")]
    private static partial void FlushFailed(ILogger logger, string vendor, string reason);
}

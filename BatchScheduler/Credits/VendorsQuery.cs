using BatchScheduler.Configuration;
using BatchScheduler.Storage;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Credits;

/// <summary>One credit window of a vendor, as the cluster has used it.</summary>
/// <param name="Start">Start of the window.</param>
/// <param name="End">End of the window (exclusive).</param>
/// <param name="Credits">The window's budget.</param>
/// <param name="Reserved">Credits nodes have taken for calls (in blocks; unused ones lapse with the window).</param>
/// <param name="Used">Credits calls spent, as reported (written about once a second).</param>
internal sealed record VendorWindow(DateTimeOffset Start, DateTimeOffset End, int Credits, int Reserved, int Used);

/// <summary>A configured vendor: its budget, the data types that spend it, and its recent windows.</summary>
internal sealed record VendorStatus(string Vendor, int Credits, TimeSpan Window, IReadOnlyList<string> DataTypes, VendorWindow Current, IReadOnlyList<VendorWindow> Recent);

/// <summary>Reads <c>vendor_credits</c> for <c>GET /api/vendors</c>.</summary>
internal sealed class VendorsQuery(ConnectionFactory connections, IOptions<VendorsOptions> vendors, IOptions<DataTypesOptions> dataTypes, TimeProvider time)
{
    /// <summary>Windows shown per vendor, the current one included.</summary>
    public const int WindowsShown = 10;

    public async Task<IReadOnlyList<VendorStatus>> ListAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var result = new List<VendorStatus>();
        await using var connection = await connections.OpenAsync(cancellationToken);
        foreach (var (vendor, options) in vendors.Value.Items.OrderBy(v => v.Key, StringComparer.Ordinal))
        {
            var current = VendorCredits.WindowStart(options.Window, now);
            var size = (long)options.Window.TotalMilliseconds;
            var rows = new Dictionary<long, VendorWindow>();
            await using (var command = connection.Command(
                "SELECT window_start, credits, reserved, used FROM vendor_credits WHERE vendor = @v AND window_start > @since AND window_start <= @current")
                .With("@v", vendor).With("@since", current - (WindowsShown * size)).With("@current", current))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    var start = reader.GetInt64(0);
                    rows[start] = Window(start, size, reader.GetInt32(1), reader.GetInt32(2), reader.GetInt32(3));
                }
            }
            var users = dataTypes.Value.Items.Where(d => d.Value.Vendor == vendor).Select(d => d.Key).Order(StringComparer.Ordinal).ToList();
            result.Add(new VendorStatus(vendor, options.Credits, options.Window, users,
                rows.GetValueOrDefault(current) ?? Window(current, size, options.Credits, 0, 0),
                rows.Values.OrderByDescending(w => w.Start).ToList()));
        }
        return result;
    }

    private static VendorWindow Window(long start, long size, int credits, int reserved, int used) =>
        new(DateTimeOffset.FromUnixTimeMilliseconds(start), DateTimeOffset.FromUnixTimeMilliseconds(start + size), credits, reserved, used);
}

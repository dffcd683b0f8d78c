using System.Reflection;
using System.Security.Cryptography;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Net.Http.Headers;

namespace BatchScheduler.Dashboard;

/// <summary>One file of the dashboard, held in memory with what its response needs.</summary>
internal sealed record DashboardAsset(string Path, byte[] Content, string ContentType, EntityTagHeaderValue ETag, string CacheControl);

/// <summary>
/// The dashboard's files (<c>Dashboard/Assets/**</c>), embedded in the assembly so the node serves
/// them with no front-end server, CDN or build step. They are read once (about 250 KB) and served
/// from memory with a strong ETag taken from their content.
/// </summary>
internal sealed class DashboardAssets
{
    /// <summary>The logical-name prefix Scheduler.csproj gives the embedded files.</summary>
    public const string ResourcePrefix = "BatchScheduler.Dashboard.Assets/";

    /// <summary>
    /// Vendored libraries sit in folders named with their version (<c>vendor/chart.js-4.6.1/</c>), so
    /// a URL never changes content and browsers may keep them for a year. Everything else is
    /// revalidated on each load (a 304 while its ETag matches), so a node upgrade shows at once.
    /// </summary>
    private const string VendorFolder = "vendor/";
    private const string Immutable = "public, max-age=31536000, immutable";
    private const string Revalidate = "no-cache";

    private readonly Dictionary<string, DashboardAsset> _assets;

    private DashboardAssets(Dictionary<string, DashboardAsset> assets) => _assets = assets;

    /// <summary>Relative paths of every file, e.g. <c>index.html</c>, <c>views/health.js</c>.</summary>
    public IEnumerable<string> Paths => _assets.Keys;

    public static DashboardAssets Load()
    {
        var assembly = typeof(DashboardAssets).Assembly;
        var types = new FileExtensionContentTypeProvider();
        var assets = new Dictionary<string, DashboardAsset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames())
        {
            if (!name.StartsWith(ResourcePrefix, StringComparison.Ordinal))
                continue;
            var path = name[ResourcePrefix.Length..].Replace('\\', '/');
            if (!types.TryGetContentType(path, out var contentType))
                throw new InvalidOperationException($"Dashboard file '{path}' has no known content type; add its extension to DashboardAssets.");
            if (contentType.StartsWith("text/", StringComparison.Ordinal))
                contentType += "; charset=utf-8";
            var content = Read(assembly, name);
            var etag = new EntityTagHeaderValue($"\"{Convert.ToHexStringLower(SHA256.HashData(content).AsSpan(0, 12))}\"");
            var cache = path.StartsWith(VendorFolder, StringComparison.Ordinal) ? Immutable : Revalidate;
            assets[path] = new DashboardAsset(path, content, contentType, etag, cache);
        }
        if (!assets.ContainsKey(DashboardEndpoints.IndexFile))
            throw new InvalidOperationException($"The dashboard's {DashboardEndpoints.IndexFile} is not embedded in {assembly.GetName().Name}; check the EmbeddedResource item in Scheduler.csproj.");
        return new DashboardAssets(assets);
    }

    public bool TryGet(string path, out DashboardAsset asset) => _assets.TryGetValue(path, out asset!);

    private static byte[] Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}

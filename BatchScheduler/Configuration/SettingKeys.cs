using System.ComponentModel;
using System.Reflection;

namespace BatchScheduler.Configuration;

/// <summary>
/// Finds the keys under BatchScheduler's own sections that no options class binds: a mistyped
/// <c>Cluster:MaxConcurency</c> would otherwise be ignored and the default used. The known keys are the
/// bindable public properties of the options types (reflection), so a new setting needs no list updated.
/// Sections BatchScheduler does not bind (Logging, Serilog, Kestrel, environment variables) are never read.
/// </summary>
internal static class SettingKeys
{
    /// <summary>A known name at most this many edits away (ignoring case) is suggested.</summary>
    public const int MaxSuggestionDistance = 2;

    public static IReadOnlyList<string> FindUnknown(IConfiguration configuration, IReadOnlyCollection<SettingsSection> sections)
    {
        var roots = sections.Select(s => s.Segments[0]).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var problems = new SortedDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var root in configuration.GetChildren().Where(c => roots.Contains(c.Key)))
        {
            foreach (var (key, _) in root.AsEnumerable())
            {
                var segments = key.Split(ConfigurationPath.KeyDelimiter);
                if (Unknown(segments, sections) is not { } unknown)
                    continue;
                var path = string.Join(ConfigurationPath.KeyDelimiter, segments[..(unknown.Index + 1)]);
                problems.TryAdd(path, Describe(path, segments[..unknown.Index], unknown.Known));
            }
        }
        return problems.Values.ToList();
    }

    private static string Describe(string path, string[] parent, IReadOnlyList<string> known)
    {
        var wrong = path[(path.LastIndexOf(ConfigurationPath.KeyDelimiter) + 1)..];
        var closest = known.Select(name => (Name: name, Distance: EditDistance.Between(wrong, name)))
            .Where(c => c.Distance <= MaxSuggestionDistance).OrderBy(c => c.Distance).FirstOrDefault();
        if (closest.Name is not null)
            return $"Unknown setting '{path}'; did you mean '{string.Join(ConfigurationPath.KeyDelimiter, parent.Append(closest.Name))}'?";
        var within = string.Join(ConfigurationPath.KeyDelimiter, parent);
        return known.Count == 0
            ? $"Unknown setting '{path}'; '{within}' has no setting by that name: remove it."
            : $"Unknown setting '{path}'; the settings of '{within}' are {string.Join(", ", known)}.";
    }

    /// <summary>Where <paramref name="segments"/> leaves what is bound (the index of the first unknown segment), and the names known there; null when the key is known.</summary>
    private static (int Index, IReadOnlyList<string> Known)? Unknown(string[] segments, IReadOnlyCollection<SettingsSection> sections)
    {
        var section = sections.Where(s => s.Segments.Length <= segments.Length && Matches(s.Segments, segments))
            .OrderByDescending(s => s.Segments.Length).FirstOrDefault();
        if (section?.OptionsType is not { } type)
            return null; // a parent of a section (DataTypes, DataTypes:<name>), or a section left to its reader
        for (var i = section.Segments.Length; i < segments.Length; i++)
        {
            var known = new List<string>();
            if (Child(type, segments[i], known) is { } child)
            {
                type = child;
                continue;
            }
            if (i == section.Segments.Length) // sections bound under this one (DataTypes:<name>:Http) are known names here too
            {
                known.AddRange(sections.Where(s => s.Segments.Length == i + 1 && Matches(section.Segments, s.Segments))
                    .Select(s => s.Segments[i]).Where(name => name != SettingsSection.AnyName));
            }
            return (i, known);
        }
        return null;
    }

    private static bool Matches(string[] pattern, string[] segments)
    {
        for (var i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] != SettingsSection.AnyName && !string.Equals(pattern[i], segments[i], StringComparison.OrdinalIgnoreCase))
                return false;
        }
        return true;
    }

    /// <summary>The type bound at <paramref name="name"/> under <paramref name="type"/>, as the configuration binder binds it; null when nothing is.</summary>
    private static Type? Child(Type type, string name, List<string> known)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (IsValue(type))
            return null;
        if (GenericArguments(type, typeof(IDictionary<,>)) is { } dictionary)
            return dictionary[1]; // keyed by the user's names
        if (type.IsArray || GenericArguments(type, typeof(IEnumerable<>)) is not null)
        {
            var element = type.IsArray ? type.GetElementType()! : GenericArguments(type, typeof(IEnumerable<>))![0];
            return int.TryParse(name, out var index) && index >= 0 ? element : null;
        }
        var properties = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && (p.SetMethod?.IsPublic == true || !IsValue(p.PropertyType)))
            .ToList();
        known.AddRange(properties.Select(p => p.Name));
        return properties.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))?.PropertyType;
    }

    /// <summary>A value the binder converts from one string (numbers, enums, TimeSpan, Uri…): it has no keys under it.</summary>
    private static bool IsValue(Type type) =>
        TypeDescriptor.GetConverter(Nullable.GetUnderlyingType(type) ?? type).CanConvertFrom(typeof(string));

    private static Type[]? GenericArguments(Type type, Type definition) =>
        type.GetInterfaces().Prepend(type)
            .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == definition)?.GetGenericArguments();
}

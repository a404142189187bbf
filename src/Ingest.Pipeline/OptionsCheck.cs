using System.Collections;
using System.ComponentModel;
using System.Globalization;
using System.Reflection;

namespace Ingest.Pipeline;

/// <summary>Checks configuration text against the options' shape before binding, so that every unknown key and every
/// value of the wrong type is named at once ("Ingest:Batching:MaxRows: 'abc' is not a Int32"), instead of the binder
/// stopping at the first with an exception. Works on flattened key/value pairs (IConfiguration.AsEnumerable()), so the
/// library needs no configuration package.</summary>
public static class OptionsCheck
{
    /// <summary>Problems with the keys under <paramref name="prefix"/> when bound to <typeparamref name="T"/>.</summary>
    public static IReadOnlyList<string> Problems<T>(IEnumerable<KeyValuePair<string, string?>> settings, string prefix) =>
        Problems(typeof(T), settings, prefix);

    public static IReadOnlyList<string> Problems(Type type, IEnumerable<KeyValuePair<string, string?>> settings, string prefix)
    {
        var problems = new SortedSet<string>(StringComparer.Ordinal);
        var start = prefix + ":";
        foreach (var (key, value) in settings)
        {
            if (!key.StartsWith(start, StringComparison.OrdinalIgnoreCase)) continue;
            if (Check(type, key[start.Length..].Split(':'), 0, value) is { } problem) problems.Add($"{key}: {problem}");
        }
        return [.. problems];
    }

    /// <summary>Null when <paramref name="path"/> from <paramref name="index"/> names a setting of <paramref name="type"/> and
    /// the value (null: a section, not a leaf) converts; else what is wrong.</summary>
    private static string? Check(Type type, string[] path, int index, string? value)
    {
        if (index == path.Length) return value is null ? null : Convert(type, value);
        if (Element(type) is { } element)
        {
            if (Dictionary(type) is null && !int.TryParse(path[index], NumberStyles.None, CultureInfo.InvariantCulture, out _))
                return $"'{path[index]}' is not an index (a list takes :0, :1, ...)";
            return Check(element, path, index + 1, value);
        }
        if (IsLeaf(type)) return $"{Name(type)} setting has no sub-key '{path[index]}'";
        var property = type.GetProperty(path[index], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
        if (property is null || !property.CanWrite)
        {
            var known = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).Select(p => p.Name);
            return $"unknown setting '{path[index]}' (known here: {string.Join(", ", known)})";
        }
        return Check(property.PropertyType, path, index + 1, value);
    }

    private static string? Convert(Type type, string value)
    {
        if (value.Length == 0) return null;
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (!IsLeaf(type)) return null;
        if (type.IsEnum)
        {
            return Enum.TryParse(type, value, ignoreCase: true, out _) && !int.TryParse(value, CultureInfo.InvariantCulture, out _)
                ? null : $"'{value}' is not one of {string.Join(", ", Enum.GetNames(type))}";
        }
        try
        {
            _ = TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
            return null;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or NotSupportedException or OverflowException || e.InnerException is FormatException or OverflowException)
        {
            return $"'{value}' is not {Name(type)}";
        }
    }

    private static bool IsLeaf(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan) || type == typeof(Uri)
        || (Nullable.GetUnderlyingType(type) is { } inner && IsLeaf(inner));

    private static Type? Element(Type type) =>
        type.IsArray ? type.GetElementType()
        : Dictionary(type) is { } dict ? dict.GetGenericArguments()[1]
        : type != typeof(string) && type.IsGenericType && typeof(IEnumerable).IsAssignableFrom(type) ? type.GetGenericArguments()[0]
        : null;

    private static Type? Dictionary(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>) ? type : null;

    private static string Name(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type == typeof(int) || type == typeof(long) ? "a whole number"
            : type == typeof(bool) ? "true or false"
            : type == typeof(TimeSpan) ? "a duration (hh:mm:ss, e.g. 00:00:05)"
            : type == typeof(double) ? "a number"
            : type == typeof(string) ? "a text"
            : "a " + type.Name;
    }
}

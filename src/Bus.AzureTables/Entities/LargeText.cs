using System.Globalization;
using Azure.Data.Tables;

namespace Bus.AzureTables.Entities;

/// <summary>Stores a string longer than a table property may hold (32K UTF-16 characters) in numbered properties
/// <c>{name}0</c>, <c>{name}1</c>, ... with the count in <c>{name}Parts</c>. An entity holds at most 1 MiB in all.</summary>
internal static class LargeText
{
    private const int PartLength = 30_000;

    public static void Write(TableEntity entity, string name, string text)
    {
        var parts = 0;
        for (var start = 0; start < text.Length || parts == 0; parts++)
        {
            var length = Math.Min(PartLength, text.Length - start);
            if (length > 0 && start + length < text.Length && char.IsHighSurrogate(text[start + length - 1]))
            {
                length--; // never split a surrogate pair
            }

            entity[Part(name, parts)] = text.Substring(start, length);
            start += length;
        }

        entity[name + "Parts"] = parts;
    }

    public static string Read(TableEntity entity, string name)
    {
        var parts = entity.GetInt32(name + "Parts") ?? 0;
        return parts == 1
            ? entity.GetString(Part(name, 0)) ?? string.Empty
            : string.Concat(Enumerable.Range(0, parts).Select(i => entity.GetString(Part(name, i)) ?? string.Empty));
    }

    private static string Part(string name, int index) => name + index.ToString(CultureInfo.InvariantCulture);
}

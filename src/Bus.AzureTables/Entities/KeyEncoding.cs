using System.Globalization;
using System.Text;

namespace Bus.AzureTables.Entities;

/// <summary>Makes any string a valid PartitionKey or RowKey: the characters Azure Tables forbids in keys ('/', '\',
/// '#', '?', control characters) and '%' itself become %XX; everything else stays readable.</summary>
internal static class KeyEncoding
{
    public static string Encode(string value)
    {
        StringBuilder? builder = null;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c is '/' or '\\' or '#' or '?' or '%' || char.IsControl(c))
            {
                builder ??= new StringBuilder(value, 0, i, value.Length + 16);
                builder.Append('%').Append(((int)c).ToString("X2", CultureInfo.InvariantCulture)); // every one is at most 0x9F
            }
            else
            {
                builder?.Append(c);
            }
        }

        return builder?.ToString() ?? value;
    }

    public static string Decode(string value)
    {
        if (!value.Contains('%', StringComparison.Ordinal))
        {
            return value;
        }

        var builder = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '%')
            {
                builder.Append((char)int.Parse(value.AsSpan(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                i += 2;
            }
            else
            {
                builder.Append(value[i]);
            }
        }

        return builder.ToString();
    }
}

using System.Text.RegularExpressions;

namespace Bus.PostgreSql.Schema;

/// <summary>Checks the name of the PostgreSQL schema that holds Bus's tables.</summary>
internal static partial class SchemaName
{
    /// <summary>The schema used when none is set.</summary>
    public const string Default = "bus";

    /// <summary>Throws when <paramref name="name"/> is not a plain lower-case identifier of at most 48 characters.</summary>
    public static string Validate(string? name, string parameterName)
    {
        if (name is null || !Pattern().IsMatch(name))
        {
            throw new ArgumentException(
                $"'{name}' is not a usable PostgreSQL schema name for Bus: use 1 to 48 lower-case letters, digits and underscores, " +
                "starting with a letter or underscore (e.g. \"bus\" or \"billing_bus\").",
                parameterName);
        }

        return name;
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,47}$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}

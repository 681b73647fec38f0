using Microsoft.AspNetCore.Http;

namespace Bus.Dashboard.Rendering;

/// <summary>Serves the dashboard's one stylesheet, embedded in the assembly.</summary>
internal static class Stylesheet
{
    private static readonly Lazy<byte[]> Content = new(() =>
    {
        using var stream = typeof(Stylesheet).Assembly.GetManifestResourceStream("Bus.Dashboard.dashboard.css")
            ?? throw new InvalidOperationException("The dashboard stylesheet is missing from Bus.Dashboard.dll.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    public static IResult Serve() => Results.Bytes(Content.Value, "text/css; charset=utf-8");
}

using System.Globalization;
using System.Text;
using Bus.Transports;

namespace Bus.Cli.Output;

/// <summary>How figures read in tables, and the JSON shapes of dead letters.</summary>
internal static class Format
{
    /// <summary>"1 dead letter", "3 dead letters".</summary>
    public static string DeadLetters(long count) => count == 1 ? "1 dead letter" : $"{Count(count)} dead letters";

    public static string Count(long? value) => value?.ToString("N0", CultureInfo.InvariantCulture) ?? "-";

    public static string Age(TimeSpan? age) => age switch
    {
        null => "-",
        { TotalDays: >= 1 } a => string.Create(CultureInfo.InvariantCulture, $"{(int)a.TotalDays}d {a.Hours:00}h"),
        { TotalHours: >= 1 } a => string.Create(CultureInfo.InvariantCulture, $"{(int)a.TotalHours}h {a.Minutes:00}m"),
        { TotalMinutes: >= 1 } a => string.Create(CultureInfo.InvariantCulture, $"{(int)a.TotalMinutes}m {a.Seconds:00}s"),
        var a => string.Create(CultureInfo.InvariantCulture, $"{(int)a.Value.TotalSeconds}s"),
    };

    public static string Time(DateTimeOffset at) =>
        at == DateTimeOffset.MinValue ? "-" : at.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static string? TypeOf(DeadLetter letter) => letter.Message.Headers.TryGetValue(MessageHeaders.MessageType, out var type) ? type : null;

    /// <summary>A dead letter as listed.</summary>
    public static DeadLetterSummary Summary(DeadLetter d) => new(
        d.Message.MessageId, TypeOf(d), d.Failure.Reason, d.Failure.ExceptionType, d.Failure.ExceptionMessage, d.Failure.Attempts,
        d.Failure.SourceQueue, d.Failure.FailedAt == DateTimeOffset.MinValue ? null : d.Failure.FailedAt);

    /// <summary>A dead letter in full: headers and body (as text when it is UTF-8, else base64).</summary>
    public static DeadLetterDetail Detail(DeadLetter d)
    {
        string body;
        string encoding;
        try
        {
            body = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(d.Message.Body.Span);
            encoding = "utf-8";
        }
        catch (DecoderFallbackException)
        {
            body = Convert.ToBase64String(d.Message.Body.Span);
            encoding = "base64";
        }

        return new DeadLetterDetail(Summary(d), d.Failure.StackTrace, new SortedDictionary<string, string>(d.Message.Headers.ToDictionary(), StringComparer.Ordinal), body, encoding);
    }
}

/// <summary>A dead letter as <c>bus dlq list</c> prints it in JSON.</summary>
internal sealed record DeadLetterSummary(
    string? MessageId, string? Type, string Reason, string? ExceptionType, string? ExceptionMessage, int Attempts, string SourceQueue, DateTimeOffset? FailedAt);

/// <summary>A dead letter as <c>bus dlq show</c> prints it in JSON.</summary>
internal sealed record DeadLetterDetail(
    DeadLetterSummary Failure, string? StackTrace, SortedDictionary<string, string> Headers, string Body, string BodyEncoding);

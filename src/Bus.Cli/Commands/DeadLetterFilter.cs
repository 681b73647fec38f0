using System.CommandLine;
using System.Globalization;
using Bus.Transports;

namespace Bus.Cli.Commands;

/// <summary>The filters of <c>bus dlq list|redrive|purge</c>: message type, failure reason, time, ids.</summary>
internal sealed class DeadLetterFilter
{
    public Option<string[]> Types { get; } = new("--type") { Description = "Only this message type (wire name); repeat for several" };

    public Option<string?> Reason { get; } = new("--reason") { Description = "Only failure reasons containing this text (case-insensitive)" };

    public Option<string?> Since { get; } = new("--since") { Description = "Only dead letters that failed at or after this time: ISO 8601 (2026-03-01T08:00Z) or an age (30m, 2h, 7d)" };

    public Option<string?> Until { get; } = new("--until") { Description = "Only dead letters that failed before this time (same forms as --since)" };

    public Option<string[]> Ids { get; } = new("--id") { Description = "Only this message id; repeat for several" };

    public IEnumerable<Option> All => [Types, Reason, Since, Until, Ids];

    /// <summary>Whether any filter was given.</summary>
    public bool Any(ParseResult parse) => Query(parse, 1) is var q
        && (q.MessageTypes is not null || q.ReasonContains is not null || q.FailedFrom is not null || q.FailedBefore is not null || q.MessageIds is not null);

    /// <summary>The query these filters make.</summary>
    /// <exception cref="CliException">A time does not read (<see cref="ExitCodes.Usage"/>).</exception>
    public DeadLetterQuery Query(ParseResult parse, int pageSize, string? continuation = null)
    {
        var now = DateTimeOffset.UtcNow;
        return new DeadLetterQuery
        {
            MessageTypes = parse.GetValue(Types) is { Length: > 0 } types ? types : null,
            ReasonContains = parse.GetValue(Reason) is { Length: > 0 } reason ? reason : null,
            FailedFrom = Time(parse.GetValue(Since), "--since", now),
            FailedBefore = Time(parse.GetValue(Until), "--until", now),
            MessageIds = parse.GetValue(Ids) is { Length: > 0 } ids ? ids : null,
            PageSize = pageSize,
            ContinuationToken = continuation,
        };
    }

    /// <summary>Every id that matches, reading page after page.</summary>
    public async Task<List<string>> MatchingIdsAsync(IDeadLetterQueue deadLetters, string queue, ParseResult parse, CancellationToken cancellationToken)
    {
        var ids = new List<string>();
        string? token = null;
        do
        {
            var page = await deadLetters.ListAsync(queue, Query(parse, DeadLetterQuery.MaxPageSize, token), cancellationToken);
            ids.AddRange(page.Items.Select(d => d.Message.MessageId).OfType<string>());
            token = page.ContinuationToken;
        }
        while (token is not null);

        return ids;
    }

    private static DateTimeOffset? Time(string? text, string option, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        text = text.Trim();
        if (text.Length > 1 && char.IsAsciiLetter(text[^1]) && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) && amount >= 0)
        {
            TimeSpan? age = char.ToLowerInvariant(text[^1]) switch
            {
                's' => TimeSpan.FromSeconds(amount),
                'm' => TimeSpan.FromMinutes(amount),
                'h' => TimeSpan.FromHours(amount),
                'd' => TimeSpan.FromDays(amount),
                _ => null,
            };
            if (age is { } ago)
            {
                return now - ago;
            }
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at
            : throw new CliException(ExitCodes.Usage, $"{option} '{text}' is neither a time (ISO 8601, e.g. 2026-03-01T08:00Z) nor an age (e.g. 30m, 2h, 7d).");
    }
}

using System.Globalization;
using Bus.Hosting;

namespace Bus.Samples;

/// <summary>
/// The switches every sample accepts: <c>--transport sqlite|sqs</c> (default sqlite), <c>--db PATH</c> (the SQLite
/// file: the transport's on sqlite, and on every transport the step and workflow stores'), and for SQS
/// <c>--sqs-endpoint URL</c> (e.g. fauxqs on http://127.0.0.1:4566; without it, AWS with the default credential
/// chain and AWS_REGION). Other <c>--name value</c> pairs are kept for the sample.
/// </summary>
public sealed class SampleOptions
{
    private readonly Dictionary<string, string> _values;

    private SampleOptions(Dictionary<string, string> values, string defaultDatabase)
    {
        _values = values;
        Transport = values.GetValueOrDefault("transport", "sqlite");
        if (Transport is not ("sqlite" or "sqs"))
        {
            throw new ArgumentException($"--transport must be sqlite or sqs (was '{Transport}').");
        }

        DatabasePath = Path.GetFullPath(values.GetValueOrDefault("db", defaultDatabase));
        SqsEndpoint = values.TryGetValue("sqs-endpoint", out var endpoint) ? new Uri(endpoint) : null;
    }

    /// <summary>"sqlite" or "sqs".</summary>
    public string Transport { get; }

    /// <summary>The SQLite database file (full path).</summary>
    public string DatabasePath { get; }

    /// <summary>The SQS endpoint override, or null for AWS.</summary>
    public Uri? SqsEndpoint { get; }

    /// <summary>Reads <c>--name value</c> pairs; throws <see cref="ArgumentException"/> with the usage on a mistake.</summary>
    public static SampleOptions Parse(string[] args, string defaultDatabase)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"Expected '--name value' pairs (e.g. --transport sqs --sqs-endpoint http://127.0.0.1:4566), got '{string.Join(' ', args)}'.");
            }

            values[args[i][2..]] = args[i + 1];
        }

        return new SampleOptions(values, defaultDatabase);
    }

    /// <summary>A sample-specific option, or <paramref name="fallback"/>.</summary>
    public string Get(string name, string fallback) => _values.GetValueOrDefault(name, fallback);

    /// <summary>A sample-specific whole-number option, or <paramref name="fallback"/>.</summary>
    public int GetInt(string name, int fallback) =>
        _values.TryGetValue(name, out var text) ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;

    /// <summary>Uses the chosen transport, and the SQLite step and workflow stores on <see cref="DatabasePath"/>.</summary>
    public BusConfiguration Apply(BusConfiguration bus)
    {
        if (Transport == "sqlite")
        {
            bus.UseSqlite(sqlite =>
            {
                sqlite.DatabasePath = DatabasePath;
                sqlite.PollInterval = TimeSpan.FromMilliseconds(250);
            });
        }
        else
        {
            bus.UseAmazonSqs(sqs =>
            {
                sqs.QueueNamePrefix = "bus-samples-";
                sqs.WaitTime = TimeSpan.FromSeconds(1);
                sqs.Region = Environment.GetEnvironmentVariable("AWS_REGION") ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION")
                    ?? (SqsEndpoint is null ? null : "us-east-1");
                if (SqsEndpoint is not null)
                {
                    sqs.ServiceUrl = SqsEndpoint;
                    if (Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID") is null)
                    {
                        sqs.AccessKeyId = "test";   // emulators accept any credentials
                        sqs.SecretAccessKey = "test";
                    }
                }
            });
        }

        return bus.UseSqliteStepStore(DatabasePath).UseSqliteWorkflowStore(DatabasePath);
    }

    /// <summary>One line saying where the sample runs.</summary>
    public string Describe() => Transport == "sqlite"
        ? $"transport: SQLite ({DatabasePath})"
        : $"transport: SQS + SNS ({SqsEndpoint?.ToString() ?? "AWS"}, queues bus-samples-*); steps and workflows: SQLite ({DatabasePath})";
}

using Bus.AmazonSqs;
using Bus.Hosting;

namespace Bus.Cli.Tests;

/// <summary>The tool against an endpoint on SQS (fauxqs on 127.0.0.1:4566), connected through a JSON settings file.</summary>
public sealed class SqsCliTests : CliTests
{
    private static readonly Uri Endpoint = new(Environment.GetEnvironmentVariable("BUS_SQS_ENDPOINT") is { Length: > 0 } e ? e : "http://127.0.0.1:4566");

    private readonly string _prefix = $"btcli{Guid.NewGuid():N}"[..11] + "-";
    private readonly string _settings = Path.Combine(Directory.CreateTempSubdirectory("bus-cli-").FullName, "settings.json");

    public SqsCliTests()
    {
        File.WriteAllText(_settings, $$"""
            {
              "Bus": {
                "Transport": "sqs",
                "Sqs": { "Region": "us-east-1", "ServiceUrl": "{{Endpoint}}", "AccessKeyId": "test", "SecretAccessKey": "test", "QueueNamePrefix": "{{_prefix}}" }
              }
            }
            """);
    }

    protected override IReadOnlyList<string> Connection => ["--settings", _settings];

    protected override void UseTransport(BusConfiguration bus) => bus.UseAmazonSqs(o =>
    {
        o.Region = "us-east-1";
        o.ServiceUrl = Endpoint;
        o.AccessKeyId = "test";
        o.SecretAccessKey = "test";
        o.WaitTime = TimeSpan.FromSeconds(1);
        o.QueueNamePrefix = _prefix;
    });
}

using Bus.AmazonSqs;
using Bus.Transports;
using Microsoft.Extensions.Configuration;

namespace Bus.Cli.Connection;

/// <summary>Amazon SQS: <c>Bus:Sqs</c> binds <see cref="SqsTransportOptions"/> (<c>Region</c>, <c>ServiceUrl</c>,
/// <c>Profile</c>, <c>QueueNamePrefix</c>, keys, ...); credentials otherwise come from the AWS SDK's default chain.</summary>
internal sealed class SqsConnector : ITransportConnector
{
    public string Name => "sqs";

    public string Settings => "Bus:Sqs:* (--sqs-region, --sqs-endpoint, --sqs-prefix, --sqs-profile; AWS_* variables)";

    public ITransport Connect(IConfigurationSection bus)
    {
        var options = TransportConnectors.Bind(bus, "Sqs", new SqsTransportOptions());
        options.WaitTime = TimeSpan.FromSeconds(1); // the tool's dead-letter reads should not long-poll for 20 s
        return TransportConnectors.Create("SQS", () => new SqsTransport(options));
    }
}

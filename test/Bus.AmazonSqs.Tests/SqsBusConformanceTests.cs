using Bus.Conformance;
using Bus.Hosting;

namespace Bus.AmazonSqs.Tests;

/// <summary>
/// The bus-level conformance suite on SQS + SNS, against fauxqs in real time. Every endpoint of a test reaches the same
/// fauxqs; queue names carry the test id, so tests never share a queue; topics (one per event wire name) are shared
/// by all tests, which filter what they see by their own test id.
/// </summary>
public sealed class SqsBusConformanceTests : BusConformanceTests
{
    protected override TimeProvider Time => TimeProvider.System;

    protected override TimeSpan Patience => TimeSpan.FromSeconds(60);

    /// <summary>SQS visibility timeouts are whole seconds: 2 s keeps every lease in the suite at a whole second or more.</summary>
    protected override TimeSpan ShortLease => TimeSpan.FromSeconds(2);

    protected override void UseTransport(BusConfiguration bus) =>
        bus.UseAmazonSqs(o =>
        {
            o.Region = "us-east-1";
            o.ServiceUrl = Fauxqs.Endpoint;
            o.AccessKeyId = "test";
            o.SecretAccessKey = "test";
            o.WaitTime = TimeSpan.FromSeconds(1);
            o.QueueNamePrefix = "bc-";
        });
}

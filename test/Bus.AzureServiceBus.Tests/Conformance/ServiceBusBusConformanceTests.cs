using Bus.AzureServiceBus.Tests.Fake;
using Bus.Conformance;
using Bus.Hosting;
using Bus.Testing;

namespace Bus.AzureServiceBus.Tests.Conformance;

/// <summary>
/// The bus-level conformance suite on Service Bus over REST, against one in-process fake broker per test on a manual
/// clock that the fake, the transport and the buses all share.
/// </summary>
public sealed class ServiceBusBusConformanceTests : BusConformanceTests, IDisposable
{
    private readonly ManualTimeProvider _time = new();
    private readonly FakeServiceBus _fake;

    public ServiceBusBusConformanceTests()
    {
        _fake = new FakeServiceBus(_time) { Latency = TimeSpan.FromMilliseconds(5) };
    }

    protected override TimeProvider Time => _time;

    /// <summary>The entity LockDuration, the fixed lease of every delivery. It must exceed the suite's longest profile
    /// lease (ShortLease * 5 = 10 s) so a lease never runs out between heartbeats; it is 60 s because the suite's
    /// TimeDriver moves the manual clock about 40 times faster than real time while a test waits, and a lock that
    /// lapses between a settle's renewal and its completion (a few real milliseconds, more on a loaded machine)
    /// would deliver the message twice. Only the crashed-worker test waits for a lock to lapse.</summary>
    private static TimeSpan LockDuration => TimeSpan.FromSeconds(60);

    protected override void UseTransport(BusConfiguration bus) =>
        bus.UseAzureServiceBus(o =>
        {
            o.ConnectionString = FakeServiceBus.ConnectionString;
            o.HttpMessageHandler = _fake;
            o.LockDuration = LockDuration;
            o.ReceiveTimeout = TimeSpan.FromSeconds(1);
        });

    public void Dispose() => _fake.Dispose();
}

using Bus.Conformance;
using Bus.Transports;

namespace Bus.AmazonSqs.Tests;

/// <summary>The transport contract, against fauxqs in real time.</summary>
public sealed class SqsTransportContractTests : TransportContractTests
{
    protected override TimeProvider Time => TimeProvider.System;

    protected override TimeSpan ShortLease => TimeSpan.FromSeconds(1);

    protected override Task<ITransport> CreateTransportAsync() =>
        Task.FromResult<ITransport>(new SqsTransport(Fauxqs.Options()));
}

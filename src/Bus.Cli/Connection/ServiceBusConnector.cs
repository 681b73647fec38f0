using Bus.AzureServiceBus;
using Bus.Transports;
using Microsoft.Extensions.Configuration;

namespace Bus.Cli.Connection;

/// <summary>Azure Service Bus: <c>Bus:ServiceBus</c> binds <see cref="ServiceBusTransportOptions"/>
/// (<c>ConnectionString</c>, or <c>FullyQualifiedNamespace</c> with the default Azure credential; <c>EntityPrefix</c>).</summary>
internal sealed class ServiceBusConnector : ITransportConnector
{
    public string Name => "servicebus";

    public string Settings => "Bus:ServiceBus:ConnectionString or Bus:ServiceBus:FullyQualifiedNamespace (--servicebus-connection, --servicebus-namespace, --servicebus-prefix)";

    public ITransport Connect(IConfigurationSection bus) =>
        TransportConnectors.Create("Service Bus", () => new ServiceBusTransport(TransportConnectors.Bind(bus, "ServiceBus", new ServiceBusTransportOptions())));
}

using System.Xml.Linq;
using Bus.AzureServiceBus.Management;
using Bus.AzureServiceBus.Topology;

namespace Bus.AzureServiceBus.Tests.Unit;

public sealed class EntityDescriptionsTests
{
    private static readonly XNamespace Atom = "http://www.w3.org/2005/Atom";
    private static readonly XNamespace Sb = "http://schemas.microsoft.com/netservices/2010/10/servicebus/connect";

    [Fact]
    public void Queue_description_elements_are_in_schema_order()
    {
        var description = Description(EntityDescriptions.Queue(TimeSpan.FromSeconds(60), 7), "QueueDescription");

        Assert.Equal(
            ["LockDuration", "RequiresSession", "DeadLetteringOnMessageExpiration", "MaxDeliveryCount", "EnableBatchedOperations"],
            description.Elements().Select(e => e.Name.LocalName));
        Assert.Equal("PT1M", description.Element(Sb + "LockDuration")!.Value);
        Assert.Equal("7", description.Element(Sb + "MaxDeliveryCount")!.Value);
    }

    [Fact]
    public void Subscription_description_elements_are_in_schema_order_with_forward_to_last()
    {
        var description = Description(
            EntityDescriptions.Subscription(TimeSpan.FromSeconds(30), 10, "https://contoso.servicebus.windows.net/orders"), "SubscriptionDescription");

        Assert.Equal(
            ["LockDuration", "RequiresSession", "DeadLetteringOnMessageExpiration", "DeadLetteringOnFilterEvaluationExceptions",
             "MaxDeliveryCount", "EnableBatchedOperations", "ForwardTo"],
            description.Elements().Select(e => e.Name.LocalName));
        Assert.Equal("PT30S", description.Element(Sb + "LockDuration")!.Value);
        Assert.Equal("https://contoso.servicebus.windows.net/orders", description.Element(Sb + "ForwardTo")!.Value);
    }

    [Fact]
    public void Topic_description_is_a_valid_entry() =>
        Assert.NotNull(Description(EntityDescriptions.Topic(), "TopicDescription"));

    [Theory]
    [InlineData("", "orders", "orders")]
    [InlineData("prod-", "orders", "prod-orders")]
    [InlineData("", "billing.close-month_v2", "billing.close-month_v2")]
    public void Valid_names_are_kept(string prefix, string logical, string entity) =>
        Assert.Equal(entity, new EntityNames(prefix).Queue(logical));

    [Fact]
    public void Invalid_names_are_sanitized_with_a_hash_that_keeps_them_apart()
    {
        var names = new EntityNames("");
        var a = names.Queue("Billing:Commands");
        var b = names.Queue("Billing/Commands");

        Assert.Matches("^Billing-Commands-[0-9a-f]{8}$", a);
        Assert.NotEqual(a, b);
        Assert.Equal(a + "-error", names.ErrorQueue("Billing:Commands"));
    }

    [Fact]
    public void Long_names_fit_the_limits()
    {
        var names = new EntityNames("");
        var logical = new string('q', 400);

        Assert.True(names.ErrorQueue(logical).Length <= 260);
        Assert.True(names.SubscriptionName(logical).Length <= 50);
        Assert.Equal("t/Subscriptions/" + names.SubscriptionName("endpoint"), names.Subscription("t", "endpoint"));
    }

    private static XElement Description(string atom, string kind)
    {
        var entry = XDocument.Parse(atom).Root!;
        Assert.Equal(Atom + "entry", entry.Name);
        var content = entry.Element(Atom + "content")!;
        Assert.Equal("application/xml", content.Attribute("type")!.Value);
        var description = content.Element(Sb + kind);
        Assert.NotNull(description);
        return description;
    }
}

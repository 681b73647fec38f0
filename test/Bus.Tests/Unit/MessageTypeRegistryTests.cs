namespace Bus.Tests.Unit;

public sealed class MessageTypeRegistryTests
{
    [Fact]
    public void Wire_name_and_version_come_from_the_attribute_else_the_full_type_name()
    {
        var registry = new MessageTypeRegistry();

        var named = registry.Register(typeof(CloseMonth));
        var plain = registry.Register(typeof(MonthClosed));

        Assert.Equal(("billing.close-month", 3, MessageKind.Command), (named.WireName, named.Version, named.Kind));
        Assert.Equal((typeof(MonthClosed).FullName, 1, MessageKind.Event), (plain.WireName, plain.Version, plain.Kind));
        Assert.True(registry.TryResolve("billing.close-month", out var resolved));
        Assert.Equal(typeof(CloseMonth), resolved.ClrType);
        Assert.False(registry.TryResolve(typeof(CloseMonth).FullName!, out _));
    }

    [Fact]
    public void A_default_priority_comes_from_the_attribute_else_0_and_out_of_range_is_rejected()
    {
        var registry = new MessageTypeRegistry();

        Assert.Equal(8, registry.Register(typeof(PageOnCall)).Priority);
        Assert.Equal(0, registry.Register(typeof(MonthClosed)).Priority);
        var error = Assert.Throws<BusConfigurationException>(() => registry.Register(typeof(TooUrgent)));
        Assert.Contains("[MessagePriority(12)]", error.Message);
        Assert.Contains("use 0 (the default) to 9", error.Message);
    }

    [Theory]
    [InlineData("7", 7)]
    [InlineData("0", 0)]
    [InlineData("42", 9)]
    [InlineData("-1", 0)]
    [InlineData("high", 0)]
    [InlineData(null, 0)]
    public void A_priority_header_reads_as_0_to_9(string? header, int expected) =>
        Assert.Equal(expected, Bus.Transports.TransportMessage.ParsePriority(header));

    [MessagePriority(8)]
    private sealed record PageOnCall : ICommand;

    [MessagePriority(12)]
    private sealed record TooUrgent : ICommand;

    [Fact]
    public void Two_types_with_one_wire_name_are_rejected()
    {
        var registry = new MessageTypeRegistry();
        registry.Register(typeof(CloseMonth));

        var error = Assert.Throws<BusConfigurationException>(() => registry.Register(typeof(CloseMonthClash)));

        Assert.Contains("billing.close-month", error.Message);
    }

    [Fact]
    public void A_type_that_is_neither_command_nor_event_needs_an_explicit_kind()
    {
        var registry = new MessageTypeRegistry();

        Assert.Contains("neither an ICommand nor an IEvent", Assert.Throws<BusConfigurationException>(() => registry.Register(typeof(Unmarked))).Message);
        Assert.Equal(MessageKind.Event, registry.Register(typeof(Unmarked), MessageKind.Event).Kind);
    }

    [Fact]
    public void Invalid_wire_names_and_marker_conflicts_are_rejected()
    {
        var registry = new MessageTypeRegistry();

        Assert.Contains("not a valid wire name", Assert.Throws<BusConfigurationException>(() => registry.Register(typeof(BadName))).Message);
        Assert.Contains("both ICommand and IEvent", Assert.Throws<BusConfigurationException>(() => registry.Register(typeof(Both))).Message);
        Assert.Contains("cannot be registered as a event", Assert.Throws<BusConfigurationException>(() => registry.Register(typeof(CloseMonth), MessageKind.Event)).Message);
    }

    [MessageName("billing.close-month", Version = 3)]
    private sealed record CloseMonth(int Year, int Month) : ICommand;

    [MessageName("billing.close-month")]
    private sealed record CloseMonthClash : ICommand;

    private sealed record MonthClosed(int Year, int Month) : IEvent;

    private sealed record Unmarked(string Value);

    [MessageName("has spaces")]
    private sealed record BadName : ICommand;

    private sealed record Both : ICommand, IEvent;
}

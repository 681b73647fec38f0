using Bus.Leases;

namespace Bus.Tests.Unit;

public sealed class TimeWindowTests
{
    private static readonly TimeZoneInfo Plus2 = TimeZoneInfo.CreateCustomTimeZone("test+2", TimeSpan.FromHours(2), "UTC+2", "UTC+2");

    [Theory]
    [InlineData(21, 59, false)]
    [InlineData(22, 0, true)]
    [InlineData(23, 30, true)]
    [InlineData(0, 0, true)]
    [InlineData(5, 59, true)]
    [InlineData(6, 0, false)]
    [InlineData(12, 0, false)]
    public void Window_across_midnight(int hour, int minute, bool open)
    {
        var window = TimeWindow.Daily("22:00", "06:00");

        Assert.Equal(open, window.IsOpen(new DateTimeOffset(2026, 3, 1, hour, minute, 0, TimeSpan.Zero)));
    }

    [Fact]
    public void Window_within_a_day_in_a_time_zone()
    {
        var window = TimeWindow.Daily("09:00", "17:00", Plus2);

        Assert.False(window.IsOpen(new DateTimeOffset(2026, 3, 1, 6, 59, 0, TimeSpan.Zero))); // 08:59 local
        Assert.True(window.IsOpen(new DateTimeOffset(2026, 3, 1, 7, 0, 0, TimeSpan.Zero)));
        Assert.False(window.IsOpen(new DateTimeOffset(2026, 3, 1, 15, 0, 0, TimeSpan.Zero))); // 17:00 local
    }

    [Fact]
    public void Next_opening_is_now_when_open_else_the_next_start_in_the_zone()
    {
        var window = TimeWindow.Daily("22:00", "06:00", Plus2);
        var noonUtc = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
        var openUtc = new DateTimeOffset(2026, 3, 1, 21, 0, 0, TimeSpan.Zero); // 23:00 local

        Assert.Equal(new DateTimeOffset(2026, 3, 1, 20, 0, 0, TimeSpan.Zero), window.NextOpening(noonUtc));
        Assert.Equal(openUtc, window.NextOpening(openUtc));
    }

    [Theory]
    [InlineData("25:00", "06:00")]
    [InlineData("ten", "06:00")]
    [InlineData("06:00", "06:00")]
    public void Invalid_windows_are_rejected(string start, string end)
    {
        Assert.Throws<BusConfigurationException>(() => TimeWindow.Daily(start, end));
    }
}

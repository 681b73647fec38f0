namespace Bus.Tests.Unit;

public sealed class MessageIdsTests
{
    [Fact]
    public void Ids_are_version_7_guids_carrying_the_millisecond_they_were_made_and_sort_by_it()
    {
        var made = DateTimeOffset.Parse("2026-12-02T03:04:05.678Z", System.Globalization.CultureInfo.InvariantCulture);

        var id = MessageIds.New(made);
        var later = MessageIds.New(made.AddMilliseconds(1));

        Assert.Equal(7, id.Version);
        Assert.Equal(0b10, id.Variant >> 2); // RFC 9562 variant: 10xx
        var bytes = id.ToByteArray(bigEndian: true);
        var milliseconds = 0L;
        for (var i = 0; i < 6; i++)
        {
            milliseconds = (milliseconds << 8) | bytes[i];
        }

        Assert.Equal(made.ToUnixTimeMilliseconds(), milliseconds);
        Assert.True(string.CompareOrdinal(id.ToString(), later.ToString()) < 0, "a later id sorts after an earlier one");
    }

    [Fact]
    public void Ids_made_in_the_same_millisecond_differ()
    {
        var now = DateTimeOffset.UtcNow;

        var ids = Enumerable.Range(0, 10_000).Select(_ => MessageIds.New(now)).ToHashSet();

        Assert.Equal(10_000, ids.Count);
    }
}

using System.Text;
using Bus.Transports;

namespace Bus.Tests.Transports;

/// <summary>Failure details trimmed so that a dead letter always fits its queue with at least its reason.</summary>
public sealed class FailureDetailsFitTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    private static readonly TransportMessage Original = new(
        new Dictionary<string, string> { [MessageHeaders.MessageId] = "m-1" }, Encoding.UTF8.GetBytes(new string('b', 1_000)));

    private static FailureDetails Full => new("Attempts exhausted (5 of 5)", "System.InvalidOperationException", new string('m', 500), new string('s', 2_000), 5, "orders", At);

    [Fact]
    public void Details_that_fit_are_kept_whole()
    {
        var fitted = Full.FitTo(Original, 10_000, MessageSizeLimit.SizeOf);

        Assert.Equal(Full, fitted);
    }

    [Fact]
    public void The_stack_trace_gives_way_first_and_is_shortened_before_it_is_dropped()
    {
        var limit = MessageSizeLimit.SizeOf(Full.AddTo(Original)) - 500;

        var fitted = Full.FitTo(Original, limit, MessageSizeLimit.SizeOf)!;

        Assert.True(MessageSizeLimit.SizeOf(fitted.AddTo(Original)) <= limit);
        Assert.NotNull(fitted.StackTrace);
        Assert.True(fitted.StackTrace!.Length < Full.StackTrace!.Length);
        Assert.EndsWith("…", fitted.StackTrace);
        Assert.Equal(Full.ExceptionMessage, fitted.ExceptionMessage);
        Assert.Equal(Full.Reason, fitted.Reason);
    }

    [Fact]
    public void With_little_room_only_the_reason_is_left_and_reads_back()
    {
        var reasonOnly = new FailureDetails(Full.Reason, null, null, null, 0, string.Empty, DateTimeOffset.MinValue);
        var limit = MessageSizeLimit.SizeOf(reasonOnly.AddTo(Original));

        var fitted = Full.FitTo(Original, limit, MessageSizeLimit.SizeOf)!;

        Assert.Equal(reasonOnly, fitted);
        var read = FailureDetails.Read(fitted.AddTo(Original), "orders");
        Assert.Equal(Full.Reason, read.Failure.Reason);
        Assert.Equal("orders", read.Failure.SourceQueue); // the fallback queue stands in
        Assert.Equal(Original.Body.ToArray(), read.Message.Body.ToArray());
    }

    [Fact]
    public void The_reason_is_shortened_last_and_null_means_not_even_that_fits()
    {
        var limit = MessageSizeLimit.SizeOf(Original) + MessageHeaders.FailureReason.Length + 12;

        var fitted = Full.FitTo(Original, limit, MessageSizeLimit.SizeOf)!;

        Assert.StartsWith("Attempt", fitted.Reason);
        Assert.True(MessageSizeLimit.SizeOf(fitted.AddTo(Original)) <= limit);
        Assert.Null(Full.FitTo(Original, MessageSizeLimit.SizeOf(Original), MessageSizeLimit.SizeOf));
    }
}

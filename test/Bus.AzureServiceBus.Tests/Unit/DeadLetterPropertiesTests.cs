using Bus.AzureServiceBus.DeadLetters;
using Bus.Transports;

namespace Bus.AzureServiceBus.Tests.Unit;

/// <summary>Failure details are trimmed in a fixed order when they would not fit: stack trace, exception message,
/// description; the reason always stays.</summary>
public sealed class DeadLetterPropertiesTests
{
    private static readonly FailureDetails Failure = new(
        "Attempts exhausted (5 of 5)", "System.InvalidOperationException", new string('m', 6_000), new string('s', 8_000), 5, "orders",
        DateTimeOffset.UnixEpoch);

    [Fact]
    public void With_room_everything_is_kept()
    {
        var dead = DeadLetterProperties.For(Failure, 1_000, 500, 256 * 1024);

        Assert.Equal("Attempts exhausted (5 of 5)", dead.Reason);
        Assert.StartsWith("System.InvalidOperationException: mmm", dead.Description, StringComparison.Ordinal);
        Assert.Equal(Failure.StackTrace, dead.Properties[MessageHeaders.FailureStackTrace]);
        Assert.Equal(Failure.ExceptionMessage, dead.Properties[MessageHeaders.FailureExceptionMessage]);
        Assert.Equal("5", dead.Properties[MessageHeaders.FailureAttempts]);
    }

    [Fact]
    public void The_stack_trace_gives_way_first_shortened_before_it_is_dropped()
    {
        var dead = DeadLetterProperties.For(Failure, 256 * 1024 - 18_000, 500, 256 * 1024);

        var trace = dead.Properties[MessageHeaders.FailureStackTrace].ToString()!;
        Assert.True(trace.Length < Failure.StackTrace!.Length);
        Assert.EndsWith("…", trace, StringComparison.Ordinal);
        Assert.Equal(Failure.ExceptionMessage, dead.Properties[MessageHeaders.FailureExceptionMessage]);
        Assert.NotNull(dead.Description);
    }

    [Fact]
    public void Then_the_exception_message_then_the_description_and_the_reason_stays()
    {
        var noTrace = DeadLetterProperties.For(Failure, 256 * 1024 - 6_000, 500, 256 * 1024);
        Assert.False(noTrace.Properties.ContainsKey(MessageHeaders.FailureStackTrace));
        Assert.Equal("Attempts exhausted (5 of 5)", noTrace.Reason);

        var bare = DeadLetterProperties.For(Failure, 256 * 1024 - 700, 500, 256 * 1024);
        Assert.False(bare.Properties.ContainsKey(MessageHeaders.FailureStackTrace));
        Assert.False(bare.Properties.ContainsKey(MessageHeaders.FailureExceptionMessage));
        Assert.False(bare.Properties.ContainsKey(MessageHeaders.FailureExceptionType));
        Assert.Null(bare.Description);
        Assert.StartsWith("Attempt", bare.Reason, StringComparison.Ordinal);
        Assert.False(bare.Properties.ContainsKey(MessageHeaders.FailureReason)); // the native DeadLetterReason carries it
    }

    [Fact]
    public void The_header_limit_counts_too()
    {
        var dead = DeadLetterProperties.For(Failure, 0, 46 * 1024, 100 * 1024 * 1024);

        Assert.True(!dead.Properties.ContainsKey(MessageHeaders.FailureStackTrace)
                    || dead.Properties[MessageHeaders.FailureStackTrace].ToString()!.Length < Failure.StackTrace!.Length);
        Assert.True(dead.Properties.ContainsKey(MessageHeaders.FailureExceptionMessage));
    }
}

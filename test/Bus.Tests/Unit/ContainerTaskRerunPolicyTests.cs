using Bus.Workflows.ContainerTasks;

namespace Bus.Tests.Unit;

public sealed class ContainerTaskRerunPolicyTests
{
    [Fact]
    public void Waits_grow_by_the_multiplier_up_to_the_cap_and_jitter_spreads_them_both_ways()
    {
        var policy = new ContainerTaskRerunPolicy { BackOff = TimeSpan.FromMinutes(1), Multiplier = 2, MaxBackOff = TimeSpan.FromMinutes(5), Jitter = 0.1 };

        Assert.Equal(TimeSpan.FromMinutes(1), policy.DelayBefore(2, 0.5));
        Assert.Equal(TimeSpan.FromMinutes(2), policy.DelayBefore(3, 0.5));
        Assert.Equal(TimeSpan.FromMinutes(4), policy.DelayBefore(4, 0.5));
        Assert.Equal(TimeSpan.FromMinutes(5), policy.DelayBefore(5, 0.5));
        Assert.Equal(TimeSpan.FromSeconds(54), policy.DelayBefore(2, 0));
        Assert.Equal(TimeSpan.FromSeconds(66), policy.DelayBefore(2, 1));
        Assert.Equal(TimeSpan.FromMinutes(5), policy.DelayBefore(5, 1)); // never past the cap
    }

    [Fact]
    public void Defaults_retry_the_capacity_stop_codes_and_count_TaskFailedToStart_as_failed_to_start()
    {
        var policy = new ContainerTaskRerunPolicy();

        Assert.Equal(3, policy.MaxRuns);
        Assert.Equal(["SpotInterruption", "TaskFailedToStart", "TerminationNotice"], policy.RetryableStopCodes.Order());
        Assert.Equal(["TaskFailedToStart"], policy.FailedToStartStopCodes);
        Assert.Empty(policy.RetryableExitCodes);
        Assert.True(policy.RerunWhenFailedToStart);
    }

    [Theory]
    [InlineData(0, 1.0, 2.0, 0.1, "MaxRuns")]
    [InlineData(3, -1.0, 2.0, 0.1, "BackOff")]
    [InlineData(3, 1.0, 0.5, 0.1, "Multiplier")]
    [InlineData(3, 1.0, 2.0, 1.5, "Jitter")]
    public void Invalid_settings_are_refused_with_what_to_change(int maxRuns, double backOffMinutes, double multiplier, double jitter, string named)
    {
        var policy = new ContainerTaskRerunPolicy { MaxRuns = maxRuns, BackOff = TimeSpan.FromMinutes(backOffMinutes), Multiplier = multiplier, Jitter = jitter };

        var error = Assert.Throws<BusConfigurationException>(policy.Validate);
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }
}

using Bus.Recoverability;

namespace Bus.Tests.Unit;

public sealed class RetryPolicyTests
{
    [Fact]
    public void Delays_are_immediate_then_exponential_and_capped_without_jitter()
    {
        var policy = new RetryPolicy { MaxAttempts = 8, ImmediateRetries = 2, InitialDelay = TimeSpan.FromSeconds(1), Multiplier = 3, MaxDelay = TimeSpan.FromSeconds(20), JitterFactor = 0 };

        var delays = Enumerable.Range(1, 7).Select(a => policy.DelayAfter(a, 0.9)).ToList();

        Assert.Equal(
            new[] { 0, 0, 1, 3, 9, 20, 20 }.Select(s => TimeSpan.FromSeconds(s)),
            delays);
    }

    [Theory]
    [InlineData(0.0, 0.8)]
    [InlineData(0.5, 1.0)]
    [InlineData(0.999999, 1.2)]
    public void Jitter_spreads_each_delay_within_the_factor(double random, double expectedScale)
    {
        var policy = new RetryPolicy { ImmediateRetries = 1, InitialDelay = TimeSpan.FromSeconds(10), Multiplier = 2, MaxDelay = TimeSpan.FromMinutes(5), JitterFactor = 0.2 };

        var delay = policy.DelayAfter(3, random); // second delayed retry: 20 s before jitter

        Assert.Equal(20 * expectedScale, delay.TotalSeconds, precision: 3);
    }

    [Fact]
    public void Default_sequence_stays_within_documented_bounds_for_any_random_draw()
    {
        var policy = new RetryPolicy();
        var rng = new Random(42);
        for (var i = 0; i < 1_000; i++)
        {
            Assert.Equal(TimeSpan.Zero, policy.DelayAfter(1, rng.NextDouble()));
            var second = policy.DelayAfter(2, rng.NextDouble()).TotalSeconds;
            var third = policy.DelayAfter(3, rng.NextDouble()).TotalSeconds;
            var fourth = policy.DelayAfter(4, rng.NextDouble()).TotalSeconds;
            Assert.InRange(second, 1.6, 2.4);
            Assert.InRange(third, 3.2, 4.8);
            Assert.InRange(fourth, 6.4, 9.6);
        }

        Assert.True(policy.HasAttemptsLeft(4));
        Assert.False(policy.HasAttemptsLeft(5));
    }

    [Fact]
    public void Jittered_delay_never_exceeds_the_max_delay()
    {
        var policy = new RetryPolicy { ImmediateRetries = 0, InitialDelay = TimeSpan.FromMinutes(1), MaxDelay = TimeSpan.FromMinutes(1), JitterFactor = 0.5 };

        Assert.Equal(TimeSpan.FromMinutes(1), policy.DelayAfter(1, 0.999));
    }

    [Fact]
    public void Listed_exception_types_and_their_subtypes_are_not_retryable()
    {
        var policy = new RetryPolicy().DoNotRetry<ArgumentException>();

        Assert.False(policy.IsRetryable(new ArgumentNullException("x")));
        Assert.False(policy.IsRetryable(new NonRetryableException("bad")));
        Assert.True(policy.IsRetryable(new InvalidOperationException()));
    }

    [Theory]
    [InlineData("MaxAttempts", 0)]
    [InlineData("ImmediateRetries", 5)]
    [InlineData("Multiplier", 0.5)]
    [InlineData("JitterFactor", 1.5)]
    public void Invalid_settings_fail_validation_naming_the_setting(string setting, double value)
    {
        var policy = new RetryPolicy();
        switch (setting)
        {
            case "MaxAttempts": policy.MaxAttempts = (int)value; break;
            case "ImmediateRetries": policy.ImmediateRetries = (int)value; break;
            case "Multiplier": policy.Multiplier = value; break;
            case "JitterFactor": policy.JitterFactor = value; break;
        }

        var error = Assert.Throws<BusConfigurationException>(policy.Validate);
        Assert.Contains(setting, error.Message);
    }

    [Fact]
    public void MaxDelay_below_InitialDelay_is_rejected()
    {
        var policy = new RetryPolicy { InitialDelay = TimeSpan.FromMinutes(2), MaxDelay = TimeSpan.FromMinutes(1) };

        Assert.Contains("MaxDelay", Assert.Throws<BusConfigurationException>(policy.Validate).Message);
    }
}

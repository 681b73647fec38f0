namespace Bus.AzureServiceBus.Tests.Live;

/// <summary>A fact that runs only against a real namespace: set <c>BUS_ASB_CONNECTION_STRING</c> to a connection string
/// with Manage rights (entities named <c>bus-live-*</c> are created in it and deleted afterwards).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class LiveServiceBusFactAttribute : FactAttribute
{
    /// <summary>The environment variable holding the live connection string.</summary>
    public const string Variable = "BUS_ASB_CONNECTION_STRING";

    /// <summary>Why live tests are skipped.</summary>
    public const string SkipReason = $"Live Azure Service Bus tests need the {Variable} environment variable (a connection string with Manage rights).";

    public LiveServiceBusFactAttribute()
    {
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            Skip = SkipReason;
        }
    }

    public static string? ConnectionString => Environment.GetEnvironmentVariable(Variable);
}

using Bus.Testing;

namespace Bus.AzureServiceBus.Tests.Fake;

/// <summary>Builds transports over a <see cref="FakeServiceBus"/> through the SDK's test seams, and drives the manual clock.</summary>
internal static class FakeTransports
{
    public static ServiceBusTransportOptions Options(ManualTimeProvider time, Action<ServiceBusTransportOptions>? configure = null)
    {
        var options = new ServiceBusTransportOptions
        {
            TimeProvider = time,
            LockDuration = TimeSpan.FromSeconds(10),
            ReceiveTimeout = TimeSpan.FromSeconds(1),
        };
        configure?.Invoke(options);
        return options;
    }

    public static ServiceBusTransport Create(FakeServiceBus fake, ManualTimeProvider time, Action<ServiceBusTransportOptions>? configure = null) =>
        new(Options(time, configure), new FakeServiceBusClient(fake), new FakeServiceBusAdministrationClient(fake));

    /// <summary>Awaits a task that waits on the manual clock, advancing the clock in small steps until it completes.</summary>
    public static async Task<T> RunAsync<T>(ManualTimeProvider time, Task<T> task, TimeSpan? limit = null)
    {
        var max = limit ?? TimeSpan.FromMinutes(5);
        var passed = TimeSpan.Zero;
        while (!task.IsCompleted)
        {
            try
            {
                return await task.WaitAsync(TimeSpan.FromMilliseconds(20));
            }
            catch (TimeoutException)
            {
                if (passed >= max)
                {
                    throw new TimeoutException($"Still not done after {max} on the manual clock.");
                }

                time.Advance(TimeSpan.FromMilliseconds(250));
                passed += TimeSpan.FromMilliseconds(250);
            }
        }

        return await task;
    }

    public static Task RunAsync(ManualTimeProvider time, Task task, TimeSpan? limit = null) =>
        RunAsync(time, Wrap(task), limit);

    private static async Task<bool> Wrap(Task task)
    {
        await task;
        return true;
    }
}

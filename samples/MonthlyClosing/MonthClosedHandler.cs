using Bus;
using Bus.Samples;
using Microsoft.Extensions.Hosting;

namespace MonthlyClosing;

/// <summary>Reports the closed month, forgets the pending closing and ends the program.</summary>
public sealed class MonthClosedHandler(Timeline timeline, PendingClosing pending, IHostApplicationLifetime lifetime) : IHandleMessages<MonthClosed>
{
    public Task HandleAsync(MonthClosed message, IMessageContext context)
    {
        timeline.Add("billing", $"MonthClosed {message.Year:0000}-{message.Month:00}: {message.Accounts} accounts, total {message.Total:N2} "
            + $"({message.AccountsClosedInThisRun} closed in this run, {message.Accounts - message.AccountsClosedInThisRun} in earlier runs)");
        pending.Finished();
        lifetime.StopApplication();
        return Task.CompletedTask;
    }
}

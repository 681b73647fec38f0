using System.Globalization;
using Bus;
using Bus.Samples;

namespace MonthlyClosing;

/// <summary>
/// The long job. Each account is closed in a memoised step (its result stored in the SQLite step store under the
/// job's message id), so when the job is released (Ctrl+C, the time window closing) or redelivered (a crash), the
/// next attempt skips the accounts already closed. Between accounts it reports progress and passes a checkpoint,
/// where it is released if the host is stopping or its time window has closed.
/// </summary>
public sealed class CloseMonthHandler(Timeline timeline) : IHandleMessages<CloseMonth>
{
    /// <summary>How long closing one account takes (pretend work).</summary>
    public static readonly TimeSpan PerAccount = TimeSpan.FromMilliseconds(400);

    public async Task HandleAsync(CloseMonth message, IMessageContext context)
    {
        var period = string.Create(CultureInfo.InvariantCulture, $"{message.Year:0000}-{message.Month:00}");
        timeline.Add("job", $"closing {period}, job {context.MessageId[^8..]}, attempt {context.Attempt}");
        var total = message.Accounts + 2;   // the accounts, the ledger, the report
        var balances = new List<decimal>(message.Accounts);
        var skipped = 0;
        var closedNow = 0;
        for (var account = 1; account <= message.Accounts; account++)
        {
            await context.CheckpointAsync();   // released here when Ctrl+C was pressed or the window closed
            var ran = false;
            var number = account;
            var balance = await context.Steps.RunAsync($"account-{account:000}", async cancellationToken =>
            {
                ran = true;
                await Task.Delay(PerAccount, cancellationToken);
                return Balance(period, number);
            });
            balances.Add(balance);
            if (!ran)
            {
                skipped++;
                continue;
            }

            if (skipped > 0 && closedNow == 0)
            {
                timeline.Add("job", $"skipped accounts 1-{skipped}: closed in an earlier run (steps are memoised)");
            }

            closedNow++;
            await context.ReportProgressAsync(account, total);
            timeline.Add("job", $"[{Bar(account, total)}] {account,3}/{total}  account {account:000} closed, balance {balance,10:N2}");
        }

        await context.CheckpointAsync();
        var ledgerTotal = await context.Steps.RunAsync("post-ledger", async cancellationToken =>
        {
            await Task.Delay(PerAccount, cancellationToken);
            return balances.Sum();
        });
        await context.ReportProgressAsync(total - 1, total);
        timeline.Add("job", $"[{Bar(total - 1, total)}] {total - 1,3}/{total}  ledger posted, total {ledgerTotal:N2}");

        await context.Steps.RunAsync("write-report", async cancellationToken =>
        {
            await Task.Delay(PerAccount, cancellationToken);
        });
        await context.ReportProgressAsync(total, total);
        timeline.Add("job", $"[{Bar(total, total)}] {total,3}/{total}  report written");

        await context.Bus.PublishAsync(new MonthClosed(message.Year, message.Month, message.Accounts, ledgerTotal, closedNow));
    }

    /// <summary>A made-up but stable balance per account and period.</summary>
    private static decimal Balance(string period, int account) =>
        (((account * 7919) + (period.Sum(c => c) * 31)) % 100_000) / 10m - 2_500m;

    private static string Bar(long done, long total)
    {
        var filled = (int)(20 * done / total);
        return new string('#', filled) + new string('.', 20 - filled);
    }
}

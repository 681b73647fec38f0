using Bus;

namespace MonthlyClosing;

/// <summary>Close the books of a month: one step per account, then post the ledger and write the report.</summary>
[MessageName("billing.close-month")]
public sealed record CloseMonth(int Year, int Month, int Accounts) : ICommand;

/// <summary>The month is closed.</summary>
[MessageName("billing.month-closed")]
public sealed record MonthClosed(int Year, int Month, int Accounts, decimal Total, int AccountsClosedInThisRun) : IEvent;

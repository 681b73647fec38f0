using Bus.Workflows;

namespace Bus.AzureTables.Tests;

/// <summary>Two stores on separate clients stand for two hosts.</summary>
public sealed class AzureTablesConcurrencyTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 5, 9, 30, 0, TimeSpan.Zero);
    private readonly string _prefix = Azurite.UniquePrefix("conc");

    [Fact]
    public async Task Two_hosts_saving_from_the_same_read_one_gets_the_concurrency_error_the_message_is_retried_on()
    {
        var (a, b) = (Store(), Store());
        var instance = Instance("order-1");
        await a.InsertAsync(instance, default);
        var readByA = await a.GetAsync(instance.WorkflowName, instance.Id, default);
        var readByB = await b.FindAsync(instance.WorkflowName, "order-1", default);

        await b.UpdateAsync(readByB! with { StateJson = "{\"by\":\"b\"}" }, readByB!.Version, default);
        var error = await Assert.ThrowsAsync<WorkflowConcurrencyException>(
            () => a.UpdateAsync(readByA! with { StateJson = "{\"by\":\"a\"}" }, readByA!.Version, default));

        Assert.Contains("changed since it was read", error.Message, StringComparison.Ordinal);
        var stored = await a.GetAsync(instance.WorkflowName, instance.Id, default);
        Assert.Equal("{\"by\":\"b\"}", stored!.StateJson);
        Assert.Equal(2, stored.Version);
    }

    [Fact]
    public async Task Racing_moves_to_one_correlation_value_exactly_one_wins()
    {
        var store = Store();
        var name = $"wf-{Guid.NewGuid():N}";
        var one = Instance("a", name);
        var two = Instance("b", name);
        await store.InsertAsync(one, default);
        await store.InsertAsync(two, default);

        var outcomes = await Task.WhenAll(new[] { one, two }.Select(i => Task.Run(async () =>
        {
            try
            {
                await Store().UpdateAsync(i with { CorrelationValue = "shared" }, 1, default);
                return true;
            }
            catch (WorkflowConcurrencyException)
            {
                return false;
            }
        })));

        Assert.Single(outcomes, won => won);
        var holder = await store.FindAsync(name, "shared", default);
        Assert.NotNull(holder);
        var loser = holder.Id == one.Id ? two : one;
        Assert.Equal(loser.CorrelationValue, (await store.GetAsync(name, loser.Id, default))?.CorrelationValue);
        Assert.Equal(loser.Id, (await store.FindAsync(name, loser.CorrelationValue!, default))?.Id);
    }

    private AzureTablesWorkflowStore Store() => new(Azurite.Client(), Azurite.Options(_prefix));

    private static WorkflowInstance Instance(string correlation, string? name = null) => new(
        name ?? $"wf-{Guid.NewGuid():N}", Guid.NewGuid().ToString(), correlation, 1, WorkflowStatus.Running, "{}",
        [new WorkflowHistoryEntry(Start, "orders.placed", "m-1")], Start, Start);
}

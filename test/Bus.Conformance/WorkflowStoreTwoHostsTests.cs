using Bus.Workflows;
using Xunit;

namespace Bus.Conformance;

/// <summary>
/// A shared <see cref="IWorkflowStore"/> seen from two hosts: two stores on separate clients (and connections) over
/// the same tables. A store's test project subclasses this and supplies a store per host.
/// </summary>
public abstract class WorkflowStoreTwoHostsTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 5, 9, 30, 0, TimeSpan.Zero);

    /// <summary>A store of host <paramref name="host"/> (0 or 1): each host has a client of its own; both see the same
    /// tables for the whole test.</summary>
    protected abstract IWorkflowStore StoreOfHost(int host);

    /// <summary>A running instance at version 1 correlated on <paramref name="correlation"/>.</summary>
    protected static WorkflowInstance Instance(string correlation, string? name = null) => new(
        name ?? $"wf-{Guid.NewGuid():N}", Guid.NewGuid().ToString(), correlation, 1, WorkflowStatus.Running, "{}",
        [new WorkflowHistoryEntry(Start, "orders.placed", "m-1")], Start, Start);

    [Fact]
    public async Task Two_hosts_saving_from_the_same_read_one_gets_the_concurrency_error_the_message_is_retried_on()
    {
        var (a, b) = (StoreOfHost(0), StoreOfHost(1));
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
    public async Task Racing_moves_to_one_correlation_value_exactly_one_wins_and_the_loser_keeps_its_own()
    {
        var store = StoreOfHost(0);
        var name = $"wf-{Guid.NewGuid():N}";
        var one = Instance("a", name);
        var two = Instance("b", name);
        await store.InsertAsync(one, default);
        await store.InsertAsync(two, default);

        var outcomes = await Task.WhenAll(new[] { (one, 0), (two, 1) }.Select(x => Task.Run(async () =>
        {
            try
            {
                await StoreOfHost(x.Item2).UpdateAsync(x.Item1 with { CorrelationValue = "shared" }, 1, default);
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
        var loserStored = await store.GetAsync(name, loser.Id, default);
        Assert.Equal((1L, loser.CorrelationValue), (loserStored?.Version, loserStored?.CorrelationValue));
        Assert.Equal(loser.Id, (await store.FindAsync(name, loser.CorrelationValue!, default))?.Id);
        Assert.Null(await store.FindAsync(name, holder.Id == one.Id ? "a" : "b", default)); // the winner left its old value
    }
}

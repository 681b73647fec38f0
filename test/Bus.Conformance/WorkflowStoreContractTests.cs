using Bus.Workflows;
using Xunit;

namespace Bus.Conformance;

/// <summary>
/// The contract every <see cref="IWorkflowStore"/> honours: round trips, correlation lookups and optimistic
/// concurrency. A store's test project subclasses this and supplies the store.
/// </summary>
public abstract class WorkflowStoreContractTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 5, 9, 30, 0, TimeSpan.Zero);

    /// <summary>Creates the store under test; called once per test. Stores of one test class may share data.</summary>
    protected abstract IWorkflowStore CreateStore();

    /// <summary>A workflow name unique to this test.</summary>
    protected static string NewWorkflowName() => $"billing.close-month-{Guid.NewGuid():N}";

    /// <summary>A new running instance at version 1 with one history entry.</summary>
    protected static WorkflowInstance NewInstance(string workflowName, string? correlation = null, string? id = null) =>
        new(
            workflowName,
            id ?? Guid.NewGuid().ToString(),
            correlation,
            1,
            WorkflowStatus.Running,
            """{"customer":"c-1","total":12.5,"note":"åäö"}""",
            [new WorkflowHistoryEntry(Start, "billing.month-closed", "m-1")],
            Start,
            Start);

    [Fact]
    public async Task Inserted_instance_round_trips_every_field()
    {
        var store = CreateStore();
        var name = NewWorkflowName();
        var instance = NewInstance(name, "order-1") with
        {
            History =
            [
                new WorkflowHistoryEntry(Start, "orders.placed", "m-1"),
                new WorkflowHistoryEntry(Start.AddMinutes(1), "payments.captured", "m-2", "timeout requested"),
            ],
            UpdatedAt = Start.AddMinutes(1),
        };

        await store.InsertAsync(instance, default);

        AssertSame(instance with { Version = 1 }, await store.GetAsync(name, instance.Id, default));
        AssertSame(instance with { Version = 1 }, await store.FindAsync(name, "order-1", default));
    }

    [Fact]
    public async Task Unknown_instance_and_correlation_are_null()
    {
        var store = CreateStore();
        var name = NewWorkflowName();
        await store.InsertAsync(NewInstance(name, "known"), default);

        Assert.Null(await store.GetAsync(name, "no-such-id", default));
        Assert.Null(await store.FindAsync(name, "unknown", default));
        Assert.Null(await store.FindAsync(NewWorkflowName(), "known", default));
    }

    [Fact]
    public async Task Instance_without_correlation_is_found_by_id_only()
    {
        var store = CreateStore();
        var name = NewWorkflowName();
        var first = NewInstance(name);
        var second = NewInstance(name);

        await store.InsertAsync(first, default);
        await store.InsertAsync(second, default);

        AssertSame(first, await store.GetAsync(name, first.Id, default));
        AssertSame(second, await store.GetAsync(name, second.Id, default));
    }

    [Fact]
    public async Task Insert_of_an_existing_id_throws_a_concurrency_error()
    {
        var store = CreateStore();
        var name = NewWorkflowName();
        var instance = NewInstance(name, "a");
        await store.InsertAsync(instance, default);

        await Assert.ThrowsAsync<WorkflowConcurrencyException>(() => store.InsertAsync(instance with { CorrelationValue = "b" }, default));

        AssertSame(instance, await store.GetAsync(name, instance.Id, default));
        Assert.Null(await store.FindAsync(name, "b", default));
    }

    [Fact]
    public async Task Insert_of_an_existing_correlation_throws_a_concurrency_error()
    {
        var store = CreateStore();
        var name = NewWorkflowName();
        var first = NewInstance(name, "order-7");
        await store.InsertAsync(first, default);
        var second = NewInstance(name, "order-7");

        await Assert.ThrowsAsync<WorkflowConcurrencyException>(() => store.InsertAsync(second, default));

        Assert.Null(await store.GetAsync(name, second.Id, default));
        Assert.Equal(first.Id, (await store.FindAsync(name, "order-7", default))?.Id);
    }

    [Fact]
    public async Task Same_id_and_correlation_under_another_workflow_name_are_separate()
    {
        var store = CreateStore();
        var one = NewInstance(NewWorkflowName(), "shared", id: "instance-1");
        var two = NewInstance(NewWorkflowName(), "shared", id: "instance-1") with { StateJson = "{\"other\":true}" };

        await store.InsertAsync(one, default);
        await store.InsertAsync(two, default);

        AssertSame(one, await store.FindAsync(one.WorkflowName, "shared", default));
        AssertSame(two, await store.FindAsync(two.WorkflowName, "shared", default));
    }

    [Fact]
    public async Task Update_replaces_the_instance_and_increments_the_version()
    {
        var store = CreateStore();
        var name = NewWorkflowName();
        var instance = NewInstance(name, "order-2");
        await store.InsertAsync(instance, default);
        var read = await store.GetAsync(name, instance.Id, default);
        Assert.NotNull(read);

        var changed = read with
        {
            StateJson = """{"customer":"c-1","total":20}""",
            History = [.. read.History, new WorkflowHistoryEntry(Start.AddHours(1), "payments.captured", "m-2", "paid")],
            UpdatedAt = Start.AddHours(1),
        };
        await store.UpdateAsync(changed, read.Version, default);
        var again = await store.GetAsync(name, instance.Id, default);
        Assert.NotNull(again);
        await store.UpdateAsync(again with { UpdatedAt = Start.AddHours(2) }, again.Version, default);

        AssertSame(changed with { Version = 2 }, again);
        var third = await store.FindAsync(name, "order-2", default);
        Assert.NotNull(third);
        Assert.Equal(3, third.Version);
        Assert.Equal(Start.AddHours(2), third.UpdatedAt);
    }

    [Fact]
    public async Task Update_with_a_stale_version_throws_and_changes_nothing()
    {
        var store = CreateStore();
        var name = NewWorkflowName();
        var instance = NewInstance(name, "order-3");
        await store.InsertAsync(instance, default);
        await store.UpdateAsync(instance with { StateJson = "{\"step\":2}" }, 1, default);

        await Assert.ThrowsAsync<WorkflowConcurrencyException>(() => store.UpdateAsync(instance with { StateJson = "{\"stale\":true}" }, 1, default));
        await Assert.ThrowsAsync<WorkflowConcurrencyException>(() => store.UpdateAsync(instance with { StateJson = "{\"ahead\":true}" }, 5, default));

        var stored = await store.GetAsync(name, instance.Id, default);
        Assert.NotNull(stored);
        Assert.Equal(2, stored.Version);
        Assert.Equal("{\"step\":2}", stored.StateJson);
    }

    [Fact]
    public async Task Update_of_a_missing_instance_throws_a_concurrency_error()
    {
        var store = CreateStore();

        await Assert.ThrowsAsync<WorkflowConcurrencyException>(() => store.UpdateAsync(NewInstance(NewWorkflowName()), 1, default));
    }

    [Fact]
    public async Task Two_racing_updates_from_the_same_read_exactly_one_wins()
    {
        var store = CreateStore();
        var name = NewWorkflowName();
        var instance = NewInstance(name, "order-4");
        await store.InsertAsync(instance, default);
        var read = await store.GetAsync(name, instance.Id, default);
        Assert.NotNull(read);

        var attempts = Enumerable.Range(0, 2)
            .Select(i => Task.Run(async () =>
            {
                try
                {
                    await store.UpdateAsync(read with { StateJson = $"{{\"writer\":{i}}}" }, read.Version, default);
                    return i;
                }
                catch (WorkflowConcurrencyException)
                {
                    return -1;
                }
            }))
            .ToList();
        var outcomes = await Task.WhenAll(attempts);

        var winner = Assert.Single(outcomes, o => o >= 0);
        Assert.Single(outcomes, o => o < 0);
        var stored = await store.GetAsync(name, instance.Id, default);
        Assert.NotNull(stored);
        Assert.Equal(2, stored.Version);
        Assert.Equal($"{{\"writer\":{winner}}}", stored.StateJson);
    }

    [Fact]
    public async Task Racing_inserts_of_one_correlation_exactly_one_wins()
    {
        var store = CreateStore();
        var name = NewWorkflowName();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            try
            {
                await store.InsertAsync(NewInstance(name, "order-5"), default);
                return true;
            }
            catch (WorkflowConcurrencyException)
            {
                return false;
            }
        })));

        Assert.Single(outcomes, won => won);
        Assert.NotNull(await store.FindAsync(name, "order-5", default));
    }

    [Fact]
    public async Task Status_and_failure_reason_round_trip()
    {
        var store = CreateStore();
        var name = NewWorkflowName();
        var failing = NewInstance(name, "order-6");
        var completing = NewInstance(name, "order-7");
        await store.InsertAsync(failing, default);
        await store.InsertAsync(completing, default);

        await store.UpdateAsync(failing with { Status = WorkflowStatus.Failed, FailureReason = "Payment declined: card expired" }, 1, default);
        await store.UpdateAsync(completing with { Status = WorkflowStatus.Completed }, 1, default);

        var failed = await store.FindAsync(name, "order-6", default);
        Assert.NotNull(failed);
        Assert.Equal(WorkflowStatus.Failed, failed.Status);
        Assert.Equal("Payment declined: card expired", failed.FailureReason);
        var completed = await store.GetAsync(name, completing.Id, default);
        Assert.NotNull(completed);
        Assert.Equal(WorkflowStatus.Completed, completed.Status);
        Assert.Null(completed.FailureReason);
    }

    /// <summary>Asserts two instances are equal field by field (history by its entries).</summary>
    protected static void AssertSame(WorkflowInstance expected, WorkflowInstance? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.WorkflowName, actual.WorkflowName);
        Assert.Equal(expected.Id, actual.Id);
        Assert.Equal(expected.CorrelationValue, actual.CorrelationValue);
        Assert.Equal(expected.Version, actual.Version);
        Assert.Equal(expected.Status, actual.Status);
        Assert.Equal(expected.StateJson, actual.StateJson);
        Assert.Equal(expected.History, actual.History);
        Assert.Equal(expected.CreatedAt, actual.CreatedAt);
        Assert.Equal(expected.UpdatedAt, actual.UpdatedAt);
        Assert.Equal(expected.FailureReason, actual.FailureReason);
    }

    [Fact]
    public async Task Update_to_a_correlation_another_instance_holds_throws_a_concurrency_error()
    {
        var store = CreateStore();
        var name = NewWorkflowName();
        var first = NewInstance(name, "order-a");
        var second = NewInstance(name, "order-b");
        await store.InsertAsync(first, default);
        await store.InsertAsync(second, default);

        await Assert.ThrowsAsync<WorkflowConcurrencyException>(() => store.UpdateAsync(second with { CorrelationValue = "order-a" }, 1, default));

        Assert.Equal(first.Id, (await store.FindAsync(name, "order-a", default))?.Id);
        Assert.Equal(1, (await store.GetAsync(name, second.Id, default))?.Version);
    }

    [Fact]
    public async Task Update_may_move_an_instance_to_a_new_correlation_value()
    {
        var store = CreateStore();
        var name = NewWorkflowName();
        var instance = NewInstance(name, "old");
        await store.InsertAsync(instance, default);

        await store.UpdateAsync(instance with { CorrelationValue = "new" }, 1, default);

        Assert.Null(await store.FindAsync(name, "old", default));
        Assert.Equal(instance.Id, (await store.FindAsync(name, "new", default))?.Id);
    }

    [Fact]
    public async Task List_pages_newest_first_by_creation_time_then_id_with_continuation_tokens()
    {
        var store = CreateStore();
        var name = NewWorkflowName();
        var other = NewWorkflowName();
        await store.InsertAsync(NewInstance(other, "o-1") with { CreatedAt = Start.AddHours(5) }, default);

        // Creation times out of insertion order; one in another offset (it is the newest in UTC though its clock reads
        // earlier), two at the same instant (ordered by id), and correlated ones whose reservations must not be listed.
        var east = new TimeSpan(2, 0, 0);
        var instances = new[]
        {
            NewInstance(name, "c-1", id: "id-3") with { CreatedAt = Start.AddMinutes(1) },
            NewInstance(name, id: "id-1") with { CreatedAt = Start.AddMinutes(3) },
            NewInstance(name, "c-2", id: "id-5") with { CreatedAt = Start.AddMinutes(2) },
            NewInstance(name, id: "id-4") with { CreatedAt = Start.AddMinutes(2) },
            NewInstance(name, id: "id-2") with { CreatedAt = Start.AddMinutes(4).ToOffset(east) },
        };
        foreach (var instance in instances)
        {
            await store.InsertAsync(instance, default);
        }

        var pages = await ReadAllPagesAsync(store, new WorkflowListQuery(name) { PageSize = 2 });

        Assert.Equal([2, 2, 1], pages.Select(p => p.Instances.Count));
        Assert.Equal(["id-2", "id-1", "id-4", "id-5", "id-3"], pages.SelectMany(p => p.Instances).Select(i => i.Id));
        Assert.All(pages.SkipLast(1), p => Assert.NotNull(p.ContinuationToken));
        Assert.Null(pages[^1].ContinuationToken);
        AssertSame(instances[4], pages[0].Instances[0]);
    }

    [Fact]
    public async Task List_by_id_orders_by_id_and_a_full_last_page_ends_the_listing()
    {
        var store = CreateStore();
        var name = NewWorkflowName();
        foreach (var id in new[] { "d", "b", "a", "c" })
        {
            await store.InsertAsync(NewInstance(name, "corr-" + id, id: id) with { CreatedAt = Start.AddMinutes(id[0]) }, default);
        }

        var pages = await ReadAllPagesAsync(store, new WorkflowListQuery(name) { Order = WorkflowListOrder.ById, PageSize = 2 });

        Assert.Equal(["a", "b", "c", "d"], pages.SelectMany(p => p.Instances).Select(i => i.Id));
        Assert.Equal(2, pages.Count);
        Assert.Null(pages[^1].ContinuationToken);
    }

    [Fact]
    public async Task List_filters_by_status_and_sees_updates()
    {
        var store = CreateStore();
        var name = NewWorkflowName();
        var running = NewInstance(name, "r") with { CreatedAt = Start.AddMinutes(1) };
        var failing = NewInstance(name, "f") with { CreatedAt = Start.AddMinutes(2) };
        var completing = NewInstance(name, "c") with { CreatedAt = Start.AddMinutes(3) };
        foreach (var instance in new[] { running, failing, completing })
        {
            await store.InsertAsync(instance, default);
        }

        await store.UpdateAsync(failing with { Status = WorkflowStatus.Failed, FailureReason = "declined" }, 1, default);
        await store.UpdateAsync(completing with { Status = WorkflowStatus.Completed }, 1, default);

        var failed = Assert.Single((await store.ListAsync(new WorkflowListQuery(name) { Status = WorkflowStatus.Failed }, default)).Instances);
        Assert.Equal(failing.Id, failed.Id);
        Assert.Equal(2, failed.Version);
        Assert.Equal("declined", failed.FailureReason);
        Assert.Equal(running.Id, Assert.Single((await store.ListAsync(new WorkflowListQuery(name) { Status = WorkflowStatus.Running }, default)).Instances).Id);
        var all = await store.ListAsync(new WorkflowListQuery(name), default);
        Assert.Equal([completing.Id, failing.Id, running.Id], all.Instances.Select(i => i.Id));
        Assert.Null(all.ContinuationToken);
    }

    [Fact]
    public async Task List_of_a_workflow_without_instances_is_one_empty_page()
    {
        var store = CreateStore();
        var name = NewWorkflowName();
        await store.InsertAsync(NewInstance(name + "-x", "prefix-neighbour"), default);

        var page = await store.ListAsync(new WorkflowListQuery(name), default);

        Assert.Empty(page.Instances);
        Assert.Null(page.ContinuationToken);
    }

    [Fact]
    public async Task List_rejects_an_invalid_query_with_a_clear_error()
    {
        var store = CreateStore();
        var name = NewWorkflowName();

        var malformed = await Assert.ThrowsAnyAsync<ArgumentException>(() => store.ListAsync(new WorkflowListQuery(name) { ContinuationToken = "not a token" }, default));
        Assert.Contains("continuation token", malformed.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.ListAsync(new WorkflowListQuery(name) { PageSize = 0 }, default));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => store.ListAsync(new WorkflowListQuery(name) { PageSize = WorkflowListQuery.MaxPageSize + 1 }, default));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.ListAsync(new WorkflowListQuery(""), default));

        // A newest-first token is not accepted by an id-ordered listing.
        await store.InsertAsync(NewInstance(name), default);
        await store.InsertAsync(NewInstance(name), default);
        var token = (await store.ListAsync(new WorkflowListQuery(name) { PageSize = 1 }, default)).ContinuationToken;
        Assert.NotNull(token);
        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.ListAsync(new WorkflowListQuery(name) { Order = WorkflowListOrder.ById, ContinuationToken = token }, default));
    }

    private static async Task<List<WorkflowPage>> ReadAllPagesAsync(IWorkflowStore store, WorkflowListQuery query)
    {
        var pages = new List<WorkflowPage>();
        string? token = null;
        do
        {
            var page = await store.ListAsync(query with { ContinuationToken = token }, default);
            pages.Add(page);
            token = page.ContinuationToken;
            Assert.True(pages.Count <= 100, "The listing did not end: each page returned a continuation token.");
        }
        while (token is not null);

        return pages;
    }
}

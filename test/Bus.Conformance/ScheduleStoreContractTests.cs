using Bus.Schedules;
using Xunit;

namespace Bus.Conformance;

/// <summary>
/// The contract every <see cref="IScheduleStore"/> honours. A store's test project subclasses this and supplies the
/// store; the stores made by one test must see the same data (hosts sharing the store).
/// </summary>
public abstract class ScheduleStoreContractTests
{
    private static readonly DateTimeOffset Tick = new(2026, 12, 6, 2, 0, 0, TimeSpan.Zero);

    /// <summary>Creates the store under test; called several times per test, the stores sharing their data.</summary>
    protected abstract IScheduleStore CreateStore();

    [Fact]
    public async Task An_unknown_schedule_has_no_record()
    {
        Assert.Null(await CreateStore().GetAsync(NewName(), default));
    }

    [Fact]
    public async Task A_tick_is_claimed_once_and_the_claim_reads_back_from_another_store()
    {
        var name = NewName();
        var one = CreateStore();
        var two = CreateStore();

        Assert.True(await one.TryClaimAsync(name, Tick, Tick.AddSeconds(3), default));
        Assert.False(await two.TryClaimAsync(name, Tick, Tick.AddSeconds(4), default));
        Assert.False(await two.TryClaimAsync(name, Tick.AddHours(-1), Tick.AddSeconds(4), default));

        var state = await two.GetAsync(name, default);
        Assert.Equal(new ScheduleState(name, Tick, Tick.AddSeconds(3), false, null), state);
    }

    [Fact]
    public async Task A_later_tick_is_claimed_after_an_earlier_one()
    {
        var name = NewName();
        var store = CreateStore();
        Assert.True(await store.TryClaimAsync(name, Tick, Tick, default));

        Assert.True(await CreateStore().TryClaimAsync(name, Tick.AddHours(1), Tick.AddHours(1).AddSeconds(1), default));

        var state = await store.GetAsync(name, default);
        Assert.Equal(Tick.AddHours(1), state!.LastTick);
        Assert.Equal(Tick.AddHours(1).AddSeconds(1), state.LastFiredAt);
    }

    [Fact]
    public async Task Of_many_stores_racing_for_one_tick_exactly_one_wins()
    {
        var name = NewName();
        var stores = Enumerable.Range(0, 8).Select(_ => CreateStore()).ToList();

        var won = await Task.WhenAll(stores.Select(s => Task.Run(() => s.TryClaimAsync(name, Tick, Tick, default))));

        Assert.Single(won, w => w);
    }

    [Fact]
    public async Task A_paused_schedule_claims_nothing_until_resumed_and_keeps_its_last_tick()
    {
        var name = NewName();
        var store = CreateStore();
        Assert.True(await store.TryClaimAsync(name, Tick, Tick, default));

        await CreateStore().SetPausedAsync(name, true, Tick.AddMinutes(10), default);
        Assert.False(await store.TryClaimAsync(name, Tick.AddHours(1), Tick.AddHours(1), default));
        Assert.Equal(new ScheduleState(name, Tick, Tick, true, null), await store.GetAsync(name, default));

        await CreateStore().SetPausedAsync(name, false, Tick.AddHours(2), default);
        Assert.Equal(new ScheduleState(name, Tick, Tick, false, Tick.AddHours(2)), await store.GetAsync(name, default));
        Assert.True(await store.TryClaimAsync(name, Tick.AddHours(3), Tick.AddHours(3), default));
    }

    [Fact]
    public async Task A_schedule_that_never_fired_can_be_paused_and_resuming_one_that_runs_changes_nothing()
    {
        var paused = NewName();
        var store = CreateStore();
        await store.SetPausedAsync(paused, true, Tick, default);
        Assert.Equal(new ScheduleState(paused, null, null, true, null), await CreateStore().GetAsync(paused, default));
        Assert.False(await store.TryClaimAsync(paused, Tick.AddHours(1), Tick.AddHours(1), default));

        var running = NewName();
        Assert.True(await store.TryClaimAsync(running, Tick, Tick, default));
        await store.SetPausedAsync(running, false, Tick.AddHours(5), default);
        Assert.Equal(new ScheduleState(running, Tick, Tick, false, null), await CreateStore().GetAsync(running, default));
    }

    [Fact]
    public async Task Times_are_kept_to_the_tick_and_read_back_in_utc()
    {
        var name = NewName();
        var tick = new DateTimeOffset(2026, 3, 29, 3, 0, 0, TimeSpan.FromHours(2)).AddTicks(1234567);
        await CreateStore().TryClaimAsync(name, tick, tick, default);

        var state = await CreateStore().GetAsync(name, default);

        Assert.Equal(tick, state!.LastTick);
        Assert.Equal(TimeSpan.Zero, state.LastTick!.Value.Offset);
    }

    [Fact]
    public async Task A_registered_definition_reads_back_from_another_store_and_a_new_record_has_no_state()
    {
        var name = NewName();
        var definition = new ScheduleDefinition("billing.nightly-report", "0 2 * * *", "Europe/Oslo", MissedTicks.Skip, Tick.AddTicks(1234567));

        await CreateStore().RegisterAsync(name, definition, default);

        Assert.Equal(new ScheduleState(name, null, null, false, null, definition), await CreateStore().GetAsync(name, default));
    }

    [Fact]
    public async Task Registering_again_replaces_the_definition_and_keeps_the_last_tick_and_the_pause()
    {
        var name = NewName();
        var store = CreateStore();
        await store.RegisterAsync(name, new ScheduleDefinition("report", "0 2 * * *", "UTC", MissedTicks.FireOnce, Tick.AddDays(-1)), default);
        Assert.True(await store.TryClaimAsync(name, Tick, Tick.AddSeconds(1), default));
        await store.SetPausedAsync(name, true, Tick.AddMinutes(5), default);

        var changed = new ScheduleDefinition("report.v2", "30 3 * * 1-5", "Europe/Berlin", MissedTicks.Skip, Tick.AddHours(1));
        await CreateStore().RegisterAsync(name, changed, default);

        Assert.Equal(new ScheduleState(name, Tick, Tick.AddSeconds(1), true, null, changed), await store.GetAsync(name, default));
        Assert.False(await store.TryClaimAsync(name, Tick.AddDays(1), Tick.AddDays(1), default));
        await store.SetPausedAsync(name, false, Tick.AddHours(2), default);
        Assert.True(await store.TryClaimAsync(name, Tick.AddDays(1), Tick.AddDays(1), default));
        Assert.Equal(
            new ScheduleState(name, Tick.AddDays(1), Tick.AddDays(1), false, Tick.AddHours(2), changed),
            await CreateStore().GetAsync(name, default));
    }

    [Fact]
    public async Task List_returns_every_record_ordered_by_name_with_its_definition_and_state()
    {
        var prefix = NewName();
        var registered = new ScheduleDefinition("sync", "*/5 * * * *", "UTC", MissedTicks.FireOnce, Tick);
        var stale = new ScheduleDefinition("old.report", "0 1 * * *", "Europe/Oslo", MissedTicks.Skip, Tick.AddDays(-30));
        var store = CreateStore();
        await store.RegisterAsync(prefix + "-b", registered, default);
        Assert.True(await store.TryClaimAsync(prefix + "-b", Tick, Tick, default));
        await store.RegisterAsync(prefix + "-a", stale, default);
        await store.SetPausedAsync(prefix + "-a", true, Tick, default);
        Assert.True(await store.TryClaimAsync(prefix + "-c", Tick, Tick.AddSeconds(2), default)); // no definition: claimed only

        var listed = (await CreateStore().ListAsync(default)).Where(s => s.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList();

        Assert.Equal(
            [
                new ScheduleState(prefix + "-a", null, null, true, null, stale),
                new ScheduleState(prefix + "-b", Tick, Tick, false, null, registered),
                new ScheduleState(prefix + "-c", Tick, Tick.AddSeconds(2), false, null),
            ],
            listed);
    }

    [Fact]
    public async Task Remove_deletes_the_record_with_its_definition_pause_and_last_tick_and_reports_that_it_did()
    {
        var name = NewName();
        var kept = NewName();
        var store = CreateStore();
        var definition = new ScheduleDefinition("old.report", "0 1 * * *", "Europe/Oslo", MissedTicks.Skip, Tick.AddDays(-30));
        await store.RegisterAsync(name, definition, default);
        Assert.True(await store.TryClaimAsync(name, Tick, Tick, default));
        await store.SetPausedAsync(name, true, Tick.AddMinutes(1), default);
        await store.RegisterAsync(kept, definition, default);

        Assert.True(await CreateStore().RemoveAsync(name, default));

        Assert.Null(await store.GetAsync(name, default));
        Assert.Null(await CreateStore().GetAsync(name, default));
        var listed = (await CreateStore().ListAsync(default)).Select(s => s.Name).ToList();
        Assert.DoesNotContain(name, listed);
        Assert.Contains(kept, listed);
        Assert.Equal(new ScheduleState(kept, null, null, false, null, definition), await store.GetAsync(kept, default));
        Assert.False(await store.RemoveAsync(name, default)); // removed already
    }

    [Fact]
    public async Task Removing_an_unknown_schedule_returns_false_and_creates_no_record()
    {
        var name = NewName();

        Assert.False(await CreateStore().RemoveAsync(name, default));

        Assert.Null(await CreateStore().GetAsync(name, default));
        Assert.DoesNotContain(name, (await CreateStore().ListAsync(default)).Select(s => s.Name));
    }

    [Fact]
    public async Task After_removal_a_schedule_registers_and_claims_afresh_without_its_old_pause_or_last_tick()
    {
        var name = NewName();
        var store = CreateStore();
        await store.RegisterAsync(name, new ScheduleDefinition("report", "0 * * * *", "UTC", MissedTicks.FireOnce, Tick), default);
        Assert.True(await store.TryClaimAsync(name, Tick.AddHours(5), Tick.AddHours(5), default));
        await store.SetPausedAsync(name, true, Tick.AddHours(6), default);
        Assert.True(await CreateStore().RemoveAsync(name, default));

        var again = new ScheduleDefinition("report.v2", "30 * * * *", "Europe/Berlin", MissedTicks.Skip, Tick.AddDays(1));
        await CreateStore().RegisterAsync(name, again, default);
        Assert.Equal(new ScheduleState(name, null, null, false, null, again), await store.GetAsync(name, default));

        // The old last tick is gone: an earlier tick than it is claimed again, and the old pause no longer holds.
        Assert.True(await store.TryClaimAsync(name, Tick.AddHours(1), Tick.AddHours(1), default));
        Assert.Equal(new ScheduleState(name, Tick.AddHours(1), Tick.AddHours(1), false, null, again), await CreateStore().GetAsync(name, default));
        Assert.Contains(name, (await CreateStore().ListAsync(default)).Select(s => s.Name));
    }

    /// <summary>A schedule name unique to this test.</summary>
    protected static string NewName() => "schedule-" + Guid.NewGuid().ToString("N");
}

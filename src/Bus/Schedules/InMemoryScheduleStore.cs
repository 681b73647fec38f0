namespace Bus.Schedules;

/// <summary>Schedule records in this host's memory: one firing per tick among the schedules of this process only.
/// The reference implementation of <see cref="IScheduleStore"/>.</summary>
public sealed class InMemoryScheduleStore : IScheduleStore
{
    private readonly Dictionary<string, ScheduleState> _states = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public Task<ScheduleState?> GetAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        lock (_states)
        {
            return Task.FromResult(_states.GetValueOrDefault(name));
        }
    }

    /// <inheritdoc />
    public Task<bool> TryClaimAsync(string name, DateTimeOffset tick, DateTimeOffset claimedAt, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        lock (_states)
        {
            var state = _states.GetValueOrDefault(name) ?? new ScheduleState(name, null, null, false, null);
            if (state.Paused || state.LastTick >= tick)
            {
                return Task.FromResult(false);
            }

            _states[name] = state with { LastTick = tick.ToUniversalTime(), LastFiredAt = claimedAt.ToUniversalTime() };
            return Task.FromResult(true);
        }
    }

    /// <inheritdoc />
    public Task RegisterAsync(string name, ScheduleDefinition definition, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(definition);
        lock (_states)
        {
            var state = _states.GetValueOrDefault(name) ?? new ScheduleState(name, null, null, false, null);
            _states[name] = state with { Definition = definition with { RegisteredAt = definition.RegisteredAt.ToUniversalTime() } };
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ScheduleState>> ListAsync(CancellationToken cancellationToken)
    {
        lock (_states)
        {
            return Task.FromResult<IReadOnlyList<ScheduleState>>(_states.Values.OrderBy(s => s.Name, StringComparer.Ordinal).ToList());
        }
    }

    /// <inheritdoc />
    public Task<bool> RemoveAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        lock (_states)
        {
            return Task.FromResult(_states.Remove(name));
        }
    }

    /// <inheritdoc />
    public Task SetPausedAsync(string name, bool paused, DateTimeOffset at, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        lock (_states)
        {
            var state = _states.GetValueOrDefault(name) ?? new ScheduleState(name, null, null, false, null);
            _states[name] = paused ? state with { Paused = true }
                : state.Paused ? state with { Paused = false, ResumedAt = at.ToUniversalTime() }
                : state;
        }

        return Task.CompletedTask;
    }
}

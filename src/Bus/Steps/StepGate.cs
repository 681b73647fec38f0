namespace Bus.Steps;

/// <summary>
/// Lets one copy of a job at a time run a given step in this process. A step is memoised by the job's message id, so
/// a retry finds it done; but two copies of the same message (at-least-once delivery, or a handler that published the
/// same deterministic id twice) handled at the same time would both find it unfinished and both run it. Here the
/// second waits, then finds the first one's result. Copies in different processes are not kept apart.
/// </summary>
internal sealed class StepGate
{
    private readonly Dictionary<string, Holder> _held = new(StringComparer.Ordinal);

    /// <summary>Waits until no other copy of job <paramref name="jobId"/> runs step <paramref name="step"/> here, and
    /// holds it until the returned pass is disposed.</summary>
    public async ValueTask<Pass> EnterAsync(string jobId, string step, CancellationToken cancellationToken)
    {
        var key = string.Concat(jobId, "\n", step);
        Holder holder;
        lock (_held)
        {
            if (!_held.TryGetValue(key, out holder!))
            {
                holder = new Holder();
                _held[key] = holder;
            }

            holder.Users++;
            holder.Announce();
        }

        try
        {
            await holder.Turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Leave(key, holder);
            throw;
        }

        return new Pass(this, key, holder);
    }

    /// <summary>Completes once at least <paramref name="users"/> copies hold or wait for step <paramref name="step"/>
    /// of job <paramref name="jobId"/> here: lets a test know a second copy is waiting, without waiting for time.</summary>
    internal Task WhenUsersAsync(string jobId, string step, int users)
    {
        var key = string.Concat(jobId, "\n", step);
        lock (_held)
        {
            if (!_held.TryGetValue(key, out var holder))
            {
                holder = new Holder();
                _held[key] = holder; // kept (with no users) until its users come and go
            }

            return holder.WhenUsers(users);
        }
    }

    private void Leave(string key, Holder holder)
    {
        lock (_held)
        {
            if (--holder.Users == 0 && !holder.Watched)
            {
                _held.Remove(key);
            }
        }
    }

    /// <summary>A held step; disposing it lets the next copy in.</summary>
    internal readonly struct Pass(StepGate gate, string key, Holder holder) : IDisposable
    {
        public void Dispose()
        {
            holder.Turn.Release();
            gate.Leave(key, holder);
        }
    }

    /// <summary>The turn of one job's step, and how many copies want it.</summary>
    internal sealed class Holder
    {
        public SemaphoreSlim Turn { get; } = new(1, 1);

        public int Users { get; set; }

        private List<(int Users, TaskCompletionSource Reached)>? _watchers;

        /// <summary>Completes once <see cref="Users"/> reaches <paramref name="users"/> (called under the gate's lock).</summary>
        public Task WhenUsers(int users)
        {
            if (Users >= users)
            {
                return Task.CompletedTask;
            }

            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            (_watchers ??= []).Add((users, reached));
            return reached.Task;
        }

        /// <summary>Wakes the watchers whose count is reached (called under the gate's lock).</summary>
        public void Announce()
        {
            foreach (var watcher in _watchers?.Where(w => Users >= w.Users).ToList() ?? [])
            {
                watcher.Reached.TrySetResult();
                _watchers!.Remove(watcher);
            }
        }

        /// <summary>Whether a test still watches this holder (it stays while it does).</summary>
        public bool Watched => _watchers is { Count: > 0 };
    }
}

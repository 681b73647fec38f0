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

    private void Leave(string key, Holder holder)
    {
        lock (_held)
        {
            if (--holder.Users == 0)
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
    }
}

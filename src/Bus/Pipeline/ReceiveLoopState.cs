namespace Bus.Pipeline;

/// <summary>How the endpoint's receive loop is doing, for the health checks: written by <see cref="EndpointReceiver"/>
/// and the host, read from any thread.</summary>
internal sealed class ReceiveLoopState
{
    private volatile ReceiveLoopStage _stage;
    private volatile Exception? _lastError;
    private int _failures;

    /// <summary>Where the loop is.</summary>
    public ReceiveLoopStage Stage => _stage;

    /// <summary>Receives that failed in a row (0 after a receive that worked).</summary>
    public int ConsecutiveFailures => Volatile.Read(ref _failures);

    /// <summary>The error of the latest failed receive, or of the loop's end when it ended unexpectedly.</summary>
    public Exception? LastError => _lastError;

    public void SendOnly() => _stage = ReceiveLoopStage.SendOnly;

    public void Running() => _stage = ReceiveLoopStage.Running;

    public void Stopping() => _stage = ReceiveLoopStage.Stopped;

    public void Received() => Volatile.Write(ref _failures, 0);

    public void Failed(Exception error)
    {
        _lastError = error;
        Interlocked.Increment(ref _failures);
    }

    /// <summary>The loop ended: expected when stopping, else a fault.</summary>
    public void Ended(Exception? error)
    {
        if (_stage != ReceiveLoopStage.Stopped)
        {
            _lastError = error ?? _lastError;
            _stage = ReceiveLoopStage.Faulted;
        }
    }
}

/// <summary>Where an endpoint's receive loop is.</summary>
internal enum ReceiveLoopStage
{
    /// <summary>The host has not started the bus.</summary>
    NotStarted,

    /// <summary>The endpoint handles nothing and subscribes to nothing: it never receives.</summary>
    SendOnly,

    /// <summary>Receiving.</summary>
    Running,

    /// <summary>Stopped with the host.</summary>
    Stopped,

    /// <summary>The loop ended while the host was running.</summary>
    Faulted,
}

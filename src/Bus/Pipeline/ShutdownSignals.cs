namespace Bus.Pipeline;

/// <summary>An endpoint's two shutdown signals, made once by its <see cref="EndpointReceiver"/> and read by every
/// delivery (one reference per delivery instead of two tokens).</summary>
/// <param name="Stopping">Cancelled when the host starts stopping: no more receives; checkpoints release.</param>
/// <param name="HardStop">Cancelled when the shutdown timeout has passed: running handlers' tokens are cancelled.</param>
internal sealed record ShutdownSignals(CancellationToken Stopping, CancellationToken HardStop);

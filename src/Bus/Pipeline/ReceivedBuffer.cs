using System.Threading.Tasks.Sources;
using Bus.Transports;

namespace Bus.Pipeline;

/// <summary>
/// Received messages waiting for a free worker, first in first out.
/// A worker that finds the buffer empty waits on its own reusable signal and is handed the next message directly, so
/// passing a message to an idle worker allocates nothing (a channel with several readers allocates a waiter per wait).
/// </summary>
internal sealed class ReceivedBuffer
{
    private readonly object _gate = new();
    private readonly Queue<BufferedMessage> _items = new();
    private readonly Stack<Worker> _idle = new();
    private readonly Action _onIdle;
    private int _idleCount; // _idle.Count, readable without the lock
    private bool _completed;

    /// <summary>Creates the buffer; <paramref name="onIdle"/> is called (outside its lock) whenever a worker starts
    /// waiting for a message.</summary>
    public ReceivedBuffer(Action onIdle) => _onIdle = onIdle;

    /// <summary>Whether a worker is waiting for a message.</summary>
    public bool HasIdleWorker => Volatile.Read(ref _idleCount) > 0;

    /// <summary>A reader for one worker loop.</summary>
    public Worker NewWorker() => new(this);

    /// <summary>Adds a message: to an idle worker if there is one, else to the end of the buffer.</summary>
    public void Add(BufferedMessage item)
    {
        Worker? idle;
        lock (_gate)
        {
            if (_completed)
            {
                throw new InvalidOperationException("The buffer is complete: nothing more may be added.");
            }

            if (_idle.TryPop(out idle))
            {
                _idleCount--;
            }
            else
            {
                _items.Enqueue(item);
            }
        }

        idle?.Hand(item);
    }

    /// <summary>Takes the first buffered message, if any (for releasing what no worker took).</summary>
    public bool TryTake(out BufferedMessage item)
    {
        lock (_gate)
        {
            return _items.TryDequeue(out item);
        }
    }

    /// <summary>No more messages come: workers finish once the buffer is empty.</summary>
    public void Complete()
    {
        Worker[] idle;
        lock (_gate)
        {
            _completed = true;
            idle = [.. _idle];
            _idle.Clear();
            _idleCount = 0;
        }

        foreach (var worker in idle)
        {
            worker.Hand(null);
        }
    }

    /// <summary>One worker's side of the buffer: <see cref="NextAsync"/> yields the next message, or false once the
    /// buffer is complete and empty. One wait at a time.</summary>
    internal sealed class Worker(ReceivedBuffer buffer) : IValueTaskSource<bool>
    {
        private ManualResetValueTaskSourceCore<bool> _signal = new() { RunContinuationsAsynchronously = true };

        /// <summary>The message taken by the last <see cref="NextAsync"/> that returned true.</summary>
        public BufferedMessage Current { get; private set; }

        public ValueTask<bool> NextAsync()
        {
            lock (buffer._gate)
            {
                if (buffer._items.TryDequeue(out var item))
                {
                    Current = item;
                    return new ValueTask<bool>(true);
                }

                if (buffer._completed)
                {
                    return new ValueTask<bool>(false);
                }

                _signal.Reset();
                buffer._idle.Push(this);
                buffer._idleCount++;
            }

            buffer._onIdle();
            return new ValueTask<bool>(this, _signal.Version);
        }

        public bool GetResult(short token) => _signal.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _signal.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _signal.OnCompleted(continuation, state, token, flags);

        /// <summary>Hands a message to this waiting worker, or (null) tells it the buffer is complete.</summary>
        internal void Hand(BufferedMessage? item)
        {
            if (item is { } next)
            {
                Current = next;
                _signal.SetResult(true);
            }
            else
            {
                _signal.SetResult(false);
            }
        }
    }
}

/// <summary>A received message waiting for a worker, and when it was received (its lease runs from then).</summary>
internal readonly record struct BufferedMessage(IReceivedMessage Message, DateTimeOffset ReceivedAt);

using System.Diagnostics;

namespace Bus.Samples;

/// <summary>Prints what happens, one line each, with the seconds since the sample started and who acted.</summary>
public sealed class Timeline
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();

    /// <summary>Prints <paramref name="text"/> as said by <paramref name="actor"/>.</summary>
    public void Add(string actor, string text)
    {
        lock (_gate)
        {
            Console.WriteLine($"{_clock.Elapsed.TotalSeconds,6:0.00}s  {actor,-12} {text}");
        }
    }
}

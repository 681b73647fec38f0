using System.Globalization;
using Bus.Steps;

namespace Bus.CrashTesting;

/// <summary>
/// Runs a <see cref="CrashJob"/> as memoised steps. The handler first logs its start with its attempt number. Each step,
/// as it starts, appends a row to the execution log (job, step, whether the step store already held the step as
/// finished) and prints "step &lt;job&gt; &lt;step&gt;", then works. A step killed mid-way is logged, so every execution
/// that a crash repeats is countable.
/// </summary>
public sealed class CrashJobHandler(IExecutionLog log, IStepStore stepStore) : IHandleMessages<CrashJob>
{
    /// <inheritdoc />
    public async Task HandleAsync(CrashJob message, IMessageContext context)
    {
        await log.RecordStartAsync(message.Number, context.Attempt, context.CancellationToken);
        for (var step = 1; step <= message.Steps; step++)
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"step-{step}");
            await context.Steps.RunAsync(name, async cancellationToken =>
            {
                // Independent of the step runner: did the store already record this step as finished?
                var alreadyFinished = await stepStore.GetAsync(context.MessageId, name, cancellationToken) is not null;
                await log.RecordStepAsync(message.Number, name, context.Attempt, alreadyFinished, cancellationToken);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {message.Number} {name}"));
                await WorkAsync(TimeSpan.FromMilliseconds(message.StepMilliseconds), cancellationToken);
            });
        }

        await log.RecordDoneAsync(message.Number, context.Attempt, context.CancellationToken);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done {message.Number}"));
    }

    /// <summary>Stands in for real work: one tick of a timer, cancelled with the handler.</summary>
    private static async Task WorkAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(duration);
        await timer.WaitForNextTickAsync(cancellationToken);
    }
}

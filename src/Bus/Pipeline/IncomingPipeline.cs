using Bus.Hosting;
using Bus.Pipeline.Steps;
using Microsoft.Extensions.DependencyInjection;

namespace Bus.Pipeline;

/// <summary>
/// The ordered incoming steps every delivery runs through, read top to bottom as the flow of one message. Each step
/// either returns an <see cref="Outcome"/> or calls the next; past the last step the message is complete.
/// </summary>
internal sealed class IncomingPipeline
{
    private readonly IIncomingStep[] _steps;
    private readonly IncomingStepDelegate[] _from; // _from[i] runs the steps from i on; _from[^1] completes

    public IncomingPipeline(IServiceProvider services, BusConfiguration config)
    {
        _steps =
        [
            Create<DelayHopStep>(services),
            Create<ResolveTypeStep>(services),
            Create<TimeWindowStep>(services),
            Create<ReceiveCountCapStep>(services),
            Create<DeserializeStep>(services),
            Create<AttemptStep>(services),
            Create<ScopeStep>(services),
            .. config.IncomingSteps.Select(step => (IIncomingStep)Activator.CreateInstance(typeof(UserStep<>).MakeGenericType(step))!),
            Create<InvokeHandlersStep>(services),
            Create<FlushSendsStep>(services),
        ];

        _from = new IncomingStepDelegate[_steps.Length + 1];
        for (var i = 0; i < _steps.Length; i++)
        {
            var step = _steps[i];
            var index = i;
            _from[i] = context => step.InvokeAsync(context, _from[index + 1]);
        }

        _from[^1] = static _ => ValueTask.FromResult(Outcome.Complete);
    }

    /// <summary>The steps, in order (for tests and logs).</summary>
    public IReadOnlyList<IIncomingStep> Steps => _steps;

    /// <summary>Runs <paramref name="context"/> through every step; returns how it ends.</summary>
    public ValueTask<Outcome> RunAsync(IncomingContext context) => _from[0](context);

    private static IIncomingStep Create<TStep>(IServiceProvider services)
        where TStep : IIncomingStep => ActivatorUtilities.CreateInstance<TStep>(services);
}

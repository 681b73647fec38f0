using Bus.Jobs;
using Bus.Schedules;
using Bus.Steps;
using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bus.PostgreSql.Hosting;

/// <summary>Creates or migrates the tables of the PostgreSQL stores at start-up, so an unreachable server, a missing
/// right or a schema newer than this version stops the host with an error that names it, instead of failing the first
/// message.</summary>
internal sealed class PostgreSqlSchemaService(IServiceProvider services) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (services.GetService<IWorkflowStore>() is PostgreSqlWorkflowStore workflows)
        {
            await workflows.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        }

        if (services.GetService<IStepStore>() is PostgreSqlStepStore steps)
        {
            await steps.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        }

        if (services.GetService<IJobStatusStore>() is PostgreSqlJobStatusStore jobs)
        {
            await jobs.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        }

        if (services.GetService<IScheduleStore>() is PostgreSqlScheduleStore schedules)
        {
            await schedules.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

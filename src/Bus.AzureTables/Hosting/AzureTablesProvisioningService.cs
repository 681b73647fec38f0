using Bus.AzureTables.Provisioning;
using Bus.Jobs;
using Bus.Schedules;
using Bus.Steps;
using Bus.Workflows;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bus.AzureTables.Hosting;

/// <summary>Creates or verifies the tables of the Azure Tables stores at start-up, so a missing table stops the host
/// with one error that lists every missing table, instead of failing the first message.</summary>
internal sealed class AzureTablesProvisioningService(IServiceProvider services) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var provisioners = new List<TableProvisioner>();
        if (services.GetService<IWorkflowStore>() is AzureTablesWorkflowStore workflows)
        {
            provisioners.Add(workflows.Provisioner);
        }

        if (services.GetService<IStepStore>() is AzureTablesStepStore steps)
        {
            provisioners.Add(steps.Provisioner);
        }

        if (services.GetService<IJobStatusStore>() is AzureTablesJobStatusStore jobs)
        {
            provisioners.Add(jobs.Provisioner);
        }

        if (services.GetService<IScheduleStore>() is AzureTablesScheduleStore schedules)
        {
            provisioners.Add(schedules.Provisioner);
        }

        var missing = new List<string>();
        foreach (var provisioner in provisioners)
        {
            missing.AddRange(await provisioner.ProvisionAsync(cancellationToken).ConfigureAwait(false));
        }

        if (missing.Count > 0)
        {
            throw TableProvisioner.VerifyFailed(missing);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

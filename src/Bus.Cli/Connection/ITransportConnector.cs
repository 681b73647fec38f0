using Bus.Jobs;
using Bus.Schedules;
using Bus.Transports;
using Bus.Workflows;
using Microsoft.Extensions.Configuration;

namespace Bus.Cli.Connection;

/// <summary>
/// Opens one kind of transport from the settings (the <c>Bus</c> section). One class per transport; the tool knows them
/// through <see cref="TransportConnectors.All"/>. A new transport is one more connector there.
/// </summary>
internal interface ITransportConnector
{
    /// <summary>The value of <c>Bus:Transport</c> (<c>--transport</c>) that picks this connector.</summary>
    string Name { get; }

    /// <summary>The settings it reads, for help and error messages.</summary>
    string Settings { get; }

    /// <summary>Opens the transport; it creates nothing (no queue, no database file).</summary>
    /// <exception cref="CliException">The settings are missing or invalid (<see cref="ExitCodes.Configuration"/>).</exception>
    ITransport Connect(IConfigurationSection bus);

    /// <summary>The job status store that goes with this transport when the settings name none, or null.</summary>
    IJobStatusStore? DefaultJobStore(IConfigurationSection bus) => null;

    /// <summary>The workflow store that goes with this transport when the settings name none, or null.</summary>
    IWorkflowStore? DefaultWorkflowStore(IConfigurationSection bus) => null;

    /// <summary>The schedule store that goes with this transport when the settings name none, or null.</summary>
    IScheduleStore? DefaultScheduleStore(IConfigurationSection bus) => null;
}

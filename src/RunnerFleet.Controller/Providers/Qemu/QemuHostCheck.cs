using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Providers.Qemu;

/// <summary>
/// At start, for each QEMU pool: the accelerator it asks for works here (<c>auto</c> resolves to one that does; the
/// answer is logged), and a restricted network's forward command exists. Either missing stops start-up with the key.
/// </summary>
internal sealed partial class QemuHostCheck(IOptions<FleetOptions> fleet, IOptions<QemuOptions> qemu, PoolCatalog pools, QemuHost host, ILogger<QemuHostCheck> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        List<string> errors = [];
        for (var i = 0; i < fleet.Value.Pools.Count; i++)
        {
            var options = fleet.Value.Pools[i];
            if (!string.Equals(options.Provider, QemuProvider.KindName, StringComparison.OrdinalIgnoreCase)
                || pools.Pools.FirstOrDefault(p => p.Name == options.Name) is not { } pool)
            {
                continue;
            }

            var settings = pool.ProviderSettingsAs<QemuPoolSettings>();
            var (accelerator, problem) = await host.AcceleratorAsync(settings).ConfigureAwait(false);
            if (accelerator is null)
            {
                errors.Add($"Fleet:Pools:{i}:Qemu:Accelerator {settings.Accelerator} is not available here: {problem}. Use auto or tcg.");
                continue;
            }

            LogAccelerator(logger, pool.Name, settings.Arch, accelerator, settings.Accelerator);
            var program = qemu.Value.ForwardCommand.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
            if (settings.Network == QemuPoolSettings.NetworkRestricted && qemu.Value.AllowedHostPorts.Count > 0 && QemuHost.FindOnPath(program) is null)
            {
                errors.Add($"Qemu:ForwardCommand runs '{program}', which was not found (on Debian: apt-get install busybox-static).");
            }
        }

        if (errors.Count > 0)
        {
            throw new OptionsValidationException(QemuOptions.Section, typeof(QemuOptions), errors);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Pool {Pool}: {Arch} VMs run with {Accelerator} (asked: {Requested})")]
    private static partial void LogAccelerator(ILogger logger, string pool, string arch, string accelerator, string requested);
}

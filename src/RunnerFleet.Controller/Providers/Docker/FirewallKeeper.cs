using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;

namespace RunnerFleet.Controller.Providers.Docker;

/// <summary>
/// Re-asserts the runner networks' firewall rules on the reconcile interval: a firewall reload, <c>iptables -F</c>
/// or an engine restart removes them silently, and nothing else would notice.
/// </summary>
internal sealed class FirewallKeeper(HostFirewall firewall, IOptions<FleetOptions> fleet, TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = fleet.Value.ReconcileInterval;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(every, time, stoppingToken).ConfigureAwait(false);
                await firewall.ReassertAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}

using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Providers.Hetzner;

/// <summary>
/// At start, checks each Hetzner pool's image against every server type it lists: a name must exist for each
/// type's architecture (ubuntu-24.04 exists as x86 and arm), a snapshot must be of the type's architecture
/// (an x86 snapshot cannot boot a CAX server). A pool that fails is marked unavailable with a log line that
/// says what is wrong; its jobs go to its overflow pool, if any. An unreachable API only warns: creates will tell.
/// </summary>
internal sealed partial class HetznerImageCheck(IServiceProvider services, PoolCatalog pools, PoolAvailability availability, FleetTelemetry telemetry, ILogger<HetznerImageCheck> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var pool in pools.Pools.Where(p => p.Provider == HetznerProvider.KindName))
        {
            var hetzner = services.GetRequiredService<HetznerProvider>();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            string? problem;
            try
            {
                problem = await hetzner.ProbeImageAsync(pool, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HetznerApiException or HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                LogUnchecked(logger, pool.Name, e.Message);
                continue;
            }

            if (problem is null)
            {
                continue;
            }

            availability.MarkUnavailable(pool.Name, DateTimeOffset.MaxValue, $"image unusable: {problem}");
            telemetry.PoolUnavailable(pool.Name, "image");
            LogUnusable(logger, pool.Name, problem, pool.Overflow ?? "none");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Error, Message = "Pool {Pool}: its Hetzner image does not fit its server types ({Problem}). The pool makes no runners; its jobs go to overflow pool {Overflow}")]
    private static partial void LogUnusable(ILogger logger, string pool, string problem, string overflow);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pool {Pool}: its Hetzner image could not be checked ({Error}); creates will tell")]
    private static partial void LogUnchecked(ILogger logger, string pool, string error);
}
